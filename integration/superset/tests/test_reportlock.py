"""Report execution lock: each (report id, scheduled time) executes exactly once,
across threads and processes, during and after the other workers' attempts."""

import collections
import json
import random
import threading
import time
from datetime import datetime, timezone

import pytest

from conftest import PYTHON, SESSION_TIMEOUT, wait_for
from zkraft_superset.reportlock import report_once, once_per_schedule, is_done, paths, prune


def test_threads_execute_each_report_once(zk, clients, root, control):
    base = root + "/reports"
    cs = [clients() for _ in range(3)]
    jobs = [(r, "2024-05-01T10:00:00") for r in range(25)] + [(r, "2024-05-01T11:00:00") for r in range(25)]
    ran = collections.Counter()
    lk = threading.Lock()
    start = threading.Barrier(10)
    errors = []

    def worker(i):
        c = cs[i % len(cs)]
        mine = list(jobs)
        random.Random(i).shuffle(mine)
        try:
            start.wait(10)
            for r, t in mine:
                with report_once(c, r, t, base=base, worker="t%d" % i) as run:
                    if run:
                        with lk:
                            ran[(r, t)] += 1
                        time.sleep(0.01)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(9)]
    for t in ts:
        t.start()
    start.wait(10)
    time.sleep(0.3)
    killed = control.kill_leader()  # mid-run on the ensemble
    for t in ts:
        t.join(90)
        assert not t.is_alive(), "worker stuck"
    assert not errors, errors
    assert set(ran) == set(jobs), "not executed: %s (leader stop %s)" % (set(jobs) - set(ran), killed)
    assert all(n == 1 for n in ran.values()), {k: n for k, n in ran.items() if n != 1}
    # Later attempts skip, and the markers say who ran.
    for r, t in jobs:
        with report_once(zk, r, t, base=base) as run:
            assert not run
        assert is_done(zk, r, t, base)
        data = json.loads(zk.get(paths(r, t, base)[1])[0])
        assert data["status"] == "ok" and data["worker"].startswith("t")


def test_processes_execute_each_report_once(zk_hosts, root, tmp_path, procs, control):
    base = root + "/reports"
    out, go = str(tmp_path / "executions"), str(tmp_path / "go")
    times = "1714557600,1714561200"
    ws = [procs.spawn([PYTHON, "-m", "report_worker", zk_hosts, base, "20", times, out, go, "p%d" % i, "3"], "worker%d" % i)
          for i in range(4)]
    for w in ws:
        assert procs.wait_output(w, "ready", 30), procs.dump()  # connected; waiting for the go file
    open(go, "w").close()
    time.sleep(0.3)
    killed = control.kill_leader()
    for w in ws:
        assert w.wait(90) == 0, procs.dump()
    lines = open(out).read().splitlines()
    execs = collections.Counter(tuple(line.split()[:2]) for line in lines)
    want = {(str(r), t) for r in range(20) for t in times.split(",")}
    assert set(execs) == want, "missing %s (leader stop %s)" % (want - set(execs), killed)
    assert all(n == 1 for n in execs.values()), {k: n for k, n in execs.items() if n != 1}
    assert len({line.split()[2].split("/")[0] for line in lines}) > 1, "one process did everything"


def test_skip_while_running_and_after_release(zk, clients, root):
    base = root + "/reports"
    other = clients()
    when = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
    with report_once(zk, 7, when, base=base) as run:
        assert run
        with report_once(other, 7, when, base=base) as run2:
            assert not run2  # the lock is held
    with report_once(other, 7, when, base=base) as run2:
        assert not run2  # done
    # Another scheduled time of the same report is a different execution.
    with report_once(other, 7, datetime(2024, 5, 1, 11, 0, tzinfo=timezone.utc), base=base) as run3:
        assert run3


def test_failed_execution_is_not_repeated(zk, clients, root):
    base = root + "/reports"
    with pytest.raises(RuntimeError):
        with report_once(zk, "r1", "t", base=base) as run:
            assert run
            raise RuntimeError("smtp down")
    assert json.loads(zk.get(paths("r1", "t", base)[1])[0])["status"] == "error"
    with report_once(clients(), "r1", "t", base=base) as run:
        assert not run


def test_crashed_worker_is_retried_after_its_session(zk_hosts, zk, root, tmp_path, procs):
    """A worker killed while executing leaves no marker: the lock blocks the others
    until its session expires, then the next worker executes."""
    base = root + "/reports"
    out, go = str(tmp_path / "executions"), str(tmp_path / "go")
    open(go, "w").close()
    w = procs.spawn([PYTHON, "-m", "report_worker", zk_hosts, base, "1", "t0", out, go, "crash", "1"], "crash",
                    env={"HOLD": "60"})
    wait_for(lambda: "0 t0 crash/0" in (open(out).read() if __import__("os").path.exists(out) else ""), 20,
             what="the worker to start executing\n" + procs.dump())
    procs.kill9(w)
    t_kill = time.monotonic()
    with report_once(zk, 0, "t0", base=base) as run:
        assert not run  # its session still holds the lock
    got = []

    def attempt():
        with report_once(zk, 0, "t0", base=base, worker="next") as run:
            if run:
                got.append(time.monotonic())
        return got

    wait_for(attempt, SESSION_TIMEOUT + 10, interval=0.2, what="the lock to be freed by session expiry")
    assert got[0] - t_kill < SESSION_TIMEOUT + 5
    assert json.loads(zk.get(paths(0, "t0", base)[1])[0])["worker"] == "next"


def test_decorator_and_prune(zk, clients, root):
    base = root + "/reports"
    calls = []

    @once_per_schedule(zk, base=base)
    def execute(report_id, scheduled, extra=None):
        calls.append((report_id, scheduled, extra))
        return "sent"

    other = once_per_schedule(clients, base=base)(lambda r, s: calls.append(("other", r, s)))
    assert execute(1, "2024-01-01T00:00", extra="x") == "sent"
    assert execute(1, "2024-01-01T00:00") is None
    assert other(1, "2024-01-01T00:00") is None
    assert calls == [(1, "2024-01-01T00:00", "x")]
    assert prune(zk, 3600, base=base) == 0
    assert prune(zk, 3600, base=base, now=time.time() + 7200) == 1
    assert not is_done(zk, 1, "2024-01-01T00:00", base)
