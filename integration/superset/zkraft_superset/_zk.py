"""Shared kazoo helpers."""

import ctypes
import ctypes.util
import os
import signal

from kazoo.client import KazooClient

DEFAULT_SESSION_TIMEOUT = 10.0


def make_client(hosts, session_timeout=DEFAULT_SESSION_TIMEOUT, **kwargs):
    """A KazooClient for hosts ("h1:2181,h2:2181,h3:2181", optionally with a /chroot)
    that retries connecting forever (a replica must come back by itself when the
    ensemble does) and retries commands a few times across a member change."""
    kwargs.setdefault("connection_retry", {"max_tries": -1, "delay": 0.1, "backoff": 2, "max_delay": 2})
    kwargs.setdefault("command_retry", {"max_tries": 10, "delay": 0.1, "backoff": 2, "max_delay": 2})
    return KazooClient(hosts=hosts, timeout=session_timeout, **kwargs)


_PR_SET_PDEATHSIG = 1


def die_with_parent():
    """A preexec_fn for subprocess.Popen: the child gets SIGKILL when the thread that
    started it dies, so a kill -9 of a supervisor never leaves its child running.
    Linux only; elsewhere the returned function does nothing."""
    parent = os.getpid()
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return lambda: None

    def preexec():
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec
