"""Fixtures for the zkraft_superset suite. Run through superset_test.go (go test -tags
clients), which starts zkraft and sets ZK_HOSTS and, for the ensemble, ZK_CONTROL."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest
from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "tests")
PYTHON = "/usr/bin/python3"

# Sessions of processes the tests kill: short, so expiry is quick, yet well above the
# ensemble's failover time so a leader stop does not expire them.
SESSION_TIMEOUT = 4.0

sys.path.insert(0, HERE)
from zkraft_superset._zk import die_with_parent  # noqa: E402


def pytest_configure(config):
    if not os.environ.get("ZK_HOSTS"):
        raise pytest.UsageError("ZK_HOSTS is not set: run through `go test -tags clients ./integration/superset/`")


@pytest.fixture
def zk_hosts():
    return os.environ["ZK_HOSTS"]


def new_client(hosts, timeout=SESSION_TIMEOUT):
    c = KazooClient(hosts=hosts, timeout=timeout,
                    connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1},
                    command_retry={"max_tries": 20, "delay": 0.1, "max_delay": 1})
    c.start(timeout=15)
    return c


@pytest.fixture
def zk(zk_hosts):
    c = new_client(zk_hosts)
    yield c
    c.stop()
    c.close()


@pytest.fixture
def clients(zk_hosts):
    """A factory of extra started clients, all closed at the end."""
    made = []

    def make(timeout=SESSION_TIMEOUT):
        c = new_client(zk_hosts, timeout)
        made.append(c)
        return c

    yield make
    for c in made:
        c.stop()
        c.close()


@pytest.fixture
def root(zk, request):
    """A fresh path for this test."""
    path = "/superset-test/%s-%s" % (request.node.name.replace("[", "_").replace("]", ""), uuid.uuid4().hex[:8])
    zk.ensure_path(path)
    return path


class Control:
    """Stops the ensemble's leader (ZK_CONTROL); against a single server it does nothing
    and returns None."""

    def __init__(self):
        self.url = os.environ.get("ZK_CONTROL")
        self.ensemble = bool(self.url)

    def kill_leader(self):
        if not self.url:
            return None
        req = urllib.request.Request(self.url + "/kill-leader", data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=90) as r:
            return json.loads(r.read().decode())


@pytest.fixture
def control():
    return Control()


class Procs:
    """Child processes: in pytest's process group (so the Go test's group kill reaches
    them), killed if pytest dies (PR_SET_PDEATHSIG), and killed and reaped at the end."""

    def __init__(self, tmp_path):
        self.procs = []
        self.tmp_path = tmp_path

    def spawn(self, args, name, env=None):
        e = dict(os.environ)
        e["PYTHONPATH"] = HERE + os.pathsep + TESTS
        e.update(env or {})
        log = open(str(self.tmp_path / ("%s.log" % name)), "wb")
        p = subprocess.Popen(args, env=e, stdout=log, stderr=subprocess.STDOUT, cwd=str(self.tmp_path),
                             preexec_fn=die_with_parent())
        p.name, p.logfile = name, log.name
        log.close()
        self.procs.append(p)
        return p

    def output(self, p):
        with open(p.logfile, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_output(self, p, text, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output(p):
                return True
            if p.poll() is not None:
                break
            time.sleep(0.05)
        return text in self.output(p)

    def kill9(self, p):
        p.send_signal(signal.SIGKILL)
        p.wait(10)

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def dump(self):
        return "\n".join("--- %s (rc %s)\n%s" % (p.name, p.poll(), self.output(p)[-3000:]) for p in self.procs)


@pytest.fixture
def procs(tmp_path, request):
    ps = Procs(tmp_path)
    yield ps
    ps.close()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        print(ps.dump())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def expire_session(c, zk_hosts, attempts=5):
    """Expire c's session from outside, the classic ZooKeeper test trick: a second
    client takes the session over and closes it. c reconnects as soon as its
    connection is taken, and if it re-attaches before the close arrives, the session
    is c's again and the close never happens (ZooKeeper behaves the same): so try
    again until c has a new session. The same race can keep the thief from ever
    seeing its session established (each time it attaches, c takes the session back
    and the server drops the thief's connection), most often on a loaded machine with a
    member down: that is a failed attempt too."""
    sid, pw = c.client_id
    for _ in range(attempts):
        thief = KazooClient(hosts=zk_hosts, client_id=(sid, pw), timeout=SESSION_TIMEOUT)
        try:
            thief.start(timeout=15)
        except KazooTimeoutError:
            pass
        thief.stop()
        thief.close()
        deadline = time.monotonic() + SESSION_TIMEOUT + 5
        while time.monotonic() < deadline:
            if c.client_id and c.client_id[0] != sid:
                return
            time.sleep(0.05)
    pytest.fail("session 0x%x still alive after %d takeovers" % (sid, attempts))


def wait_for(cond, timeout, interval=0.05, what="condition"):
    """Poll cond until it returns a true value or timeout passes; return the value or
    fail."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            pytest.fail("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)
