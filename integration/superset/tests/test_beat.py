"""Celery beat singleton: real `celery beat` (Debian python3-celery) under
`python3 -m zkraft_superset.beat`, several candidates, one beat at a time."""

import os
import signal
import time

from conftest import PYTHON, SESSION_TIMEOUT, wait_for
from proxy import Proxy


def read_ticks(path):
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        parts = line.split()
        if len(parts) == 2:
            out.append((float(parts[1]), parts[0]))
    return sorted(out)


def segments(ticks):
    """The sequence of beat ids in tick order, with repeats collapsed."""
    seq = []
    for _, who in ticks:
        if not seq or seq[-1] != who:
            seq.append(who)
    return seq


def start_candidate(procs, tmp_path, zk_hosts, path, name, session_timeout=SESSION_TIMEOUT):
    broker = tmp_path / "broker"
    broker.mkdir(exist_ok=True)
    args = [PYTHON, "-m", "zkraft_superset.beat", "--hosts", zk_hosts, "--path", path, "--id", name,
            "--session-timeout", str(session_timeout), "--grace", "1", "--",
            PYTHON, "-m", "celery", "-A", "tickapp", "beat", "-l", "INFO",
            "--pidfile", str(tmp_path / (name + ".pid")), "-s", str(tmp_path / (name + ".schedule"))]
    env = {"BEAT_ID": name, "BROKER_DIR": str(broker), "TICKS_FILE": str(tmp_path / "ticks")}
    return procs.spawn(args, name, env)


def beat_pid(procs, p):
    for line in procs.output(p).splitlines():
        if "zkraft_superset.beat: leader" in line:
            pid = int(line.rsplit(" ", 1)[1])
    return pid


def gone(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            return "\nState:\tZ" in f.read()
    except FileNotFoundError:
        return True


def test_one_beat_and_failover(zk, zk_hosts, root, tmp_path, procs, control):
    path = root + "/beat"
    ticks_file = str(tmp_path / "ticks")
    cands = {n: start_candidate(procs, tmp_path, zk_hosts, path, n) for n in ("a", "b", "c")}

    first = wait_for(lambda: read_ticks(ticks_file), 30, what="a beat to tick\n" + procs.dump())[0][1]
    time.sleep(2)
    assert segments(read_ticks(ticks_file)) == [first], procs.dump()
    assert zk.Election(path).contenders()[0] == first

    # Stopping the ensemble's leader does not move the beat (sessions survive).
    killed = control.kill_leader()
    time.sleep(2)
    assert segments(read_ticks(ticks_file)) == [first], "after %s\n%s" % (killed, procs.dump())

    # kill -9 the active wrapper: its beat dies with it, another takes over once the
    # session expires.
    old_beat = beat_pid(procs, cands[first])
    t_kill = time.time()
    procs.kill9(cands[first])
    wait_for(lambda: gone(old_beat), 5, what="the killed wrapper's celery beat to die")
    second = wait_for(lambda: [w for t, w in read_ticks(ticks_file) if w != first], SESSION_TIMEOUT + 15,
                      what="failover\n" + procs.dump())[0]
    ticks = read_ticks(ticks_file)
    # How long the takeover took is printed, not asserted (a loaded machine stretches
    # it); the wait above bounds it.
    took = min(t for t, w in ticks if w == second) - t_kill
    assert max(t for t, w in ticks if w == first) < t_kill + 0.5
    print("failover %s -> %s in %.1fs (session timeout %.0fs)" % (first, second, took, SESSION_TIMEOUT))

    # SIGTERM the new leader: it stops its beat and gives up the lock; the third
    # takes over without waiting for a session to expire.
    third = ({"a", "b", "c"} - {first, second}).pop()
    cands[second].send_signal(signal.SIGTERM)
    assert cands[second].wait(15) == 0
    wait_for(lambda: any(w == third for _, w in read_ticks(ticks_file)), 15, what="graceful handover")
    time.sleep(1)
    assert segments(read_ticks(ticks_file)) == [first, second, third], procs.dump()

    cands[third].send_signal(signal.SIGTERM)
    assert cands[third].wait(15) == 0
    n = len(read_ticks(ticks_file))
    time.sleep(1)
    assert len(read_ticks(ticks_file)) == n, "a beat still ticks after every wrapper stopped"


def test_partitioned_leader_stops_its_beat(zk, zk_hosts, root, tmp_path, procs):
    """The active wrapper is cut off from the ensemble (a frozen proxy: no close, no
    data). It must stop its beat before another replica can be elected, i.e. before its
    session expires; the other then takes over. When the partition heals, the old
    wrapper finds its session expired and contends again as a follower."""
    path = root + "/beat"
    ticks_file = str(tmp_path / "ticks")
    proxy = Proxy(zk_hosts)
    try:
        a = start_candidate(procs, tmp_path, proxy.addr, path, "a")
        wait_for(lambda: read_ticks(ticks_file), 30, what="a to tick\n" + procs.dump())
        b = start_candidate(procs, tmp_path, zk_hosts, path, "b")
        wait_for(lambda: len(zk.get_children(path)) == 2, 15, what="b to contend")
        time.sleep(1)
        assert segments(read_ticks(ticks_file)) == ["a"]

        t_cut = time.time()
        proxy.freeze()
        wait_for(lambda: "stopping pid" in procs.output(a), SESSION_TIMEOUT + 5, what="a to stop its beat\n" + procs.dump())
        wait_for(lambda: any(w == "b" for _, w in read_ticks(ticks_file)), SESSION_TIMEOUT + 15,
                 what="b to take over\n" + procs.dump())
        ticks = read_ticks(ticks_file)
        last_a = max(t for t, w in ticks if w == "a")
        first_b = min(t for t, w in ticks if w == "b")
        assert last_a < first_b, "a ticked at %.2f, after b started at %.2f" % (last_a, first_b)
        assert last_a < t_cut + SESSION_TIMEOUT, "a kept ticking %.1fs into the partition" % (last_a - t_cut)

        proxy.thaw()
        wait_for(lambda: "lost leadership" in procs.output(a), 30, what="a to notice\n" + procs.dump())
        time.sleep(1.5)
        assert segments(read_ticks(ticks_file)) == ["a", "b"], procs.dump()
        assert a.poll() is None and b.poll() is None
    finally:
        proxy.close()
