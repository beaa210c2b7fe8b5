"""Run Celery beat on exactly one Superset replica.

    python3 -m zkraft_superset.beat --hosts zk1:2181,zk2:2181,zk3:2181 \\
        --path /superset/celery-beat -- \\
        celery --app=superset.tasks.celery_app:app beat --pidfile /tmp/celerybeat.pid

Every replica runs this wrapper; they contend for a kazoo Lock (the kazoo Election
layout: ephemeral sequential "<uuid>__lock__<seq>" children of --path, data = --id).
Only the holder runs the command. The command is stopped (SIGTERM to its process
group, SIGKILL after --grace seconds) as soon as the connection to the ensemble is
suspended or the session is lost, because another replica may be elected once the
session expires; it is restarted if the connection comes back with the session (and
so the lock) intact. If the wrapper itself dies, even by kill -9, the kernel kills
the command (PR_SET_PDEATHSIG), and the session's expiry hands the lock to the next
replica. If the command exits on its own, the wrapper exits with its status (let
your supervisor restart it). SIGTERM/SIGINT stop the command and give up the lock.
"""

import argparse
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time

from kazoo.exceptions import CancelledError, KazooException, NoNodeError
from kazoo.protocol.states import KazooState

from ._zk import die_with_parent, make_client

log = logging.getLogger("zkraft_superset.beat")


class Singleton:
    """Run argv only while holding the lock at path."""

    def __init__(self, client, path, argv, identifier=None, grace=10.0, poll=0.1, env=None):
        self.client = client
        self.path = path
        self.argv = list(argv)
        self.identifier = identifier or "%s:%d" % (socket.gethostname(), os.getpid())
        self.grace = grace
        self.poll = poll
        self.env = env
        self.child = None
        self.lock = None
        self._stop = threading.Event()
        self._state = client.state
        self._lost = threading.Event()
        client.add_listener(self._on_state)

    def _on_state(self, state):
        self._state = state
        if state == KazooState.LOST:
            self._lost.set()
        if state != KazooState.CONNECTED and self.child is not None:
            # Stop right away from the event thread too: the main loop may be asleep.
            log.warning("zkraft_superset.beat: connection %s; the command will be stopped", state)
        return False

    def stop(self, *_):
        self._stop.set()
        if self.lock is not None:
            self.lock.cancel()

    def _start_child(self):
        log.info("zkraft_superset.beat: %s is leader on %s; starting %s", self.identifier, self.path, self.argv)
        self.child = subprocess.Popen(self.argv, env=self.env, start_new_session=True, preexec_fn=die_with_parent())
        print("zkraft_superset.beat: leader %s pid %d" % (self.identifier, self.child.pid), file=sys.stderr, flush=True)

    def _stop_child(self, why):
        c, self.child = self.child, None
        if c is None:
            return None
        log.info("zkraft_superset.beat: stopping pid %d (%s)", c.pid, why)
        print("zkraft_superset.beat: stopping pid %d (%s)" % (c.pid, why), file=sys.stderr, flush=True)
        try:
            os.killpg(c.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            return c.wait(self.grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(c.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return c.wait()

    def _still_holding(self):
        try:
            return self.client.exists("%s/%s" % (self.path, self.lock.node)) is not None
        except KazooException:
            return False

    def _lead(self):
        """Run while holding the lock. Returns the command's exit status if it exited
        by itself, None if leadership was lost or a stop was asked."""
        while not self._stop.is_set():
            if self._lost.is_set():
                self._stop_child("session lost")
                return None
            if self._state != KazooState.CONNECTED:
                self._stop_child("connection %s" % self._state)
            elif self.child is None:
                if not self._still_holding():
                    return None
                self._start_child()
            elif self.child.poll() is not None:
                code = self.child.returncode
                self.child = None
                log.warning("zkraft_superset.beat: command exited with %s", code)
                return code
            self._stop.wait(self.poll)
        self._stop_child("stopping")
        return None

    def run(self):
        """Contend and lead until stopped or the command exits. Returns an exit status."""
        while not self._stop.is_set():
            self._lost.clear()
            self.lock = self.client.Lock(self.path, self.identifier)
            try:
                if not self.lock.acquire():
                    continue
            except CancelledError:
                break
            except KazooException as e:
                log.warning("zkraft_superset.beat: acquiring %s: %s; retrying", self.path, e)
                self._stop.wait(1)
                continue
            try:
                code = self._lead()
            finally:
                self._stop_child("leaving")
                try:
                    # Also after a lost session: the lock may have re-created its node
                    # in the new session while acquiring, and that node must go.
                    self.lock.release()
                except (KazooException, NoNodeError):
                    pass
            if code is not None:
                return code
            if not self._stop.is_set():
                print("zkraft_superset.beat: %s lost leadership; contending again" % self.identifier,
                      file=sys.stderr, flush=True)
        return 0


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m zkraft_superset.beat",
                                description="Run a command (celery beat) on one replica at a time.")
    p.add_argument("--hosts", default=os.environ.get("ZK_HOSTS", "127.0.0.1:2181"))
    p.add_argument("--path", default="/superset/celery-beat")
    p.add_argument("--id", default=None, help="this replica's name in the election (default host:pid)")
    p.add_argument("--session-timeout", type=float, default=10.0)
    p.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- celery ... beat ...")
    a = p.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        p.error("no command given (after --)")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    client = make_client(a.hosts, session_timeout=a.session_timeout)
    client.start_async()
    s = Singleton(client, a.path, cmd, identifier=a.id, grace=a.grace)
    signal.signal(signal.SIGTERM, s.stop)
    signal.signal(signal.SIGINT, s.stop)
    try:
        code = s.run()
    finally:
        s._stop_child("exiting")
        client.stop()
        client.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
