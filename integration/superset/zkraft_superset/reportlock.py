"""Run each alert/report execution once across Celery workers.

    from zkraft_superset import report_once

    with report_once(zk, report_id, scheduled_dttm) as mine:
        if mine:
            execute()            # only one worker gets here for this (report, time)

or as a decorator on a function whose first two arguments are the report id and the
scheduled time::

    @once_per_schedule(zk)
    def execute(report_id, scheduled_dttm, ...): ...

Layout under base (default /superset/reports):
  <base>/<report_id>/<scheduled>/lock/   kazoo Lock contenders (ephemeral sequential)
  <base>/<report_id>/<scheduled>/done    persistent marker, JSON {"worker","status","finished_at"}

A worker checks the marker, takes the lock without blocking (a busy lock means another
worker is executing: skip), checks the marker again (the previous holder may have
finished between the two), executes, writes the marker and only then releases the
lock. So a second worker skips the execution while it runs and after it released.
The marker is written whether the execution succeeded or raised (status "ok" or
"error"): a failed report is not re-sent by another worker. If the holder dies while
executing, its lock goes with its session and the marker was never written, so the
next worker that asks executes it: a crashed execution is retried, a finished one never
is. prune() removes markers older than a given age.
"""

import functools
import json
import logging
import os
import socket
import time
from contextlib import contextmanager
from datetime import datetime

from kazoo.exceptions import NodeExistsError, NoNodeError, NotEmptyError

log = logging.getLogger("zkraft_superset.reportlock")

DEFAULT_BASE = "/superset/reports"


def _key(value):
    if isinstance(value, datetime):
        value = value.isoformat()
    s = str(value).replace("%", "%25").replace("/", "%2F")
    return "_" + s if s in ("", ".", "..") else s


def paths(report_id, scheduled, base=DEFAULT_BASE):
    node = "%s/%s/%s" % (base.rstrip("/"), _key(report_id), _key(scheduled))
    return node + "/lock", node + "/done"


def is_done(client, report_id, scheduled, base=DEFAULT_BASE):
    return client.retry(client.exists, paths(report_id, scheduled, base)[1]) is not None


@contextmanager
def report_once(client, report_id, scheduled, base=DEFAULT_BASE, worker=None):
    """Yield True in exactly one worker per (report_id, scheduled) - the one that
    should execute - and False in every other, concurrent or later."""
    lock_path, done_path = paths(report_id, scheduled, base)
    worker = worker or "%s:%d" % (socket.gethostname(), os.getpid())
    if client.retry(client.exists, done_path) is not None:
        yield False
        return
    lock = client.Lock(lock_path, worker)
    if not lock.acquire(blocking=False):
        log.debug("zkraft_superset.reportlock: %s@%s is being executed elsewhere; skipping", report_id, scheduled)
        yield False
        return
    mine, status = False, "error"
    try:
        mine = client.retry(client.exists, done_path) is None
        yield mine
        status = "ok"
    finally:
        try:
            if mine:
                _mark(client, done_path, worker, status)
        finally:
            lock.release()


def _mark(client, done_path, worker, status):
    data = json.dumps({"worker": worker, "status": status, "finished_at": time.time()}).encode()
    try:
        client.retry(client.create, done_path, data, makepath=True)
    except NodeExistsError:
        pass  # a retried create that had succeeded: we hold the lock, so it is ours


def once_per_schedule(client, base=DEFAULT_BASE):
    """Decorator: fn(report_id, scheduled, ...) runs only in the worker that wins;
    the others get None."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(report_id, scheduled, *args, **kwargs):
            c = client() if callable(client) else client
            with report_once(c, report_id, scheduled, base=base) as mine:
                if mine:
                    return fn(report_id, scheduled, *args, **kwargs)
                return None

        return inner

    return wrap


def prune(client, older_than, base=DEFAULT_BASE, now=None):
    """Delete the markers (and empty lock parents) of executions finished more than
    older_than seconds ago. Returns how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    base = base.rstrip("/")
    try:
        reports = client.get_children(base)
    except NoNodeError:
        return 0
    for r in reports:
        for s in client.get_children("%s/%s" % (base, r)):
            node = "%s/%s/%s" % (base, r, s)
            try:
                data, _ = client.get(node + "/done")
                finished = json.loads(data.decode()).get("finished_at", 0)
            except (NoNodeError, ValueError):
                continue
            if now - finished < older_than:
                continue
            try:
                client.delete(node, recursive=True)
                removed += 1
            except (NoNodeError, NotEmptyError):
                pass
    return removed
