"""kazoo (python3-kazoo) against zkraft.

Run by TestKazoo (kazoo_test.go), which starts an in-process zkraft behind a recording
proxy and passes its address in ZK_HOSTS. Every client made by the `zk` fixture first
syncs /__matrix__/<test name> so that the proxy can attribute its ops to this test.
Every wait is bounded (WAIT seconds).

It also runs against a 3-member ensemble (ZK_HOSTS lists every member; kazoo picks
one at random per client). Reads are served by the member a client is connected to,
as with ZooKeeper: where a client reads what another client wrote, it syncs first.
"""

import os
import threading
import time
import uuid

import pytest

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    ConnectionLoss,
    LockTimeout,
    InvalidACLError,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.connection import _CONNECTION_DROP
from kazoo.protocol.states import EventType, WatchedEvent, ZnodeStat
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.retry import KazooRetry
from kazoo.security import ACL, Id, make_digest_acl, make_digest_acl_credential, OPEN_ACL_UNSAFE
from kazoo.security import Permissions

HOSTS = os.environ.get("ZK_HOSTS", "127.0.0.1:2181")
# ZK_MEMBERS names single members for the tests that must run on each kind of member
# ("leader=host:port,follower=host:port"); without it they run against ZK_HOSTS.
MEMBERS = [tuple(m.split("=", 1)) for m in os.environ.get("ZK_MEMBERS", "").split(",") if m] or [("hosts", HOSTS)]
WAIT = 10.0


def wait_for(pred, timeout=WAIT, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out after %ss waiting for %s" % (timeout, what))


@pytest.fixture
def zk(request):
    """A factory of started clients, labelled for the matrix and stopped afterwards."""
    made = []
    label = "test_kazoo.py::" + request.node.name

    def make(**kw):
        kw.setdefault("timeout", 10.0)
        kw.setdefault("connection_retry", KazooRetry(max_tries=-1, max_delay=1.0, deadline=WAIT))
        kw.setdefault("command_retry", KazooRetry(max_tries=3, deadline=WAIT))
        kw.setdefault("hosts", HOSTS)
        c = KazooClient(**kw)
        made.append(c)
        c.start(timeout=WAIT)
        c.sync("/__matrix__/" + label)
        return c

    yield make
    for c in made:
        try:
            c.stop()
        finally:
            c.close()


@pytest.fixture
def root(zk, request):
    """A fresh path for this test, created by a client of its own."""
    c = zk()
    path = "/kz-%s-%s" % (request.node.name, uuid.uuid4().hex[:8])
    c.create(path)
    yield path


def test_connect_close(zk):
    c = zk()
    assert c.connected
    assert c.state == KazooState.CONNECTED
    sid, passwd = c.client_id
    assert sid != 0 and len(passwd) == 16
    states = []
    c.add_listener(states.append)
    c.stop()
    assert not c.connected
    assert states[-1] == KazooState.LOST
    # The session is gone: resuming it is refused (the server answers timeout 0, kazoo
    # logs "Session has expired" and, still in its initial LOST state, opens a new one).
    c2 = KazooClient(hosts=HOSTS, client_id=(sid, passwd), timeout=10.0)
    try:
        c2.start(timeout=WAIT)
        wait_for(lambda: c2.connected, what="a new session")
        assert c2.client_id[0] != sid
    finally:
        c2.stop()
        c2.close()


def test_idle_session_pings(zk):
    """A 1 s session kept alive by kazoo's pings (idle longer than the timeout)."""
    c = zk(timeout=1.0)
    sid = c.client_id[0]
    lost = []
    c.add_listener(lambda s: lost.append(s) if s != KazooState.CONNECTED else None)
    time.sleep(1.5)
    assert c.connected and c.client_id[0] == sid and not lost
    assert c.exists("/") is not None


def test_server_version(zk):
    c = zk()
    v = c.server_version()
    assert isinstance(v, tuple) and len(v) >= 2
    assert v[:2] == (3, 8), v


def test_create_modes(zk, root):
    c = zk()
    assert c.create(root + "/plain", b"v") == root + "/plain"
    assert c.get(root + "/plain")[0] == b"v"

    s1 = c.create(root + "/seq-", b"", sequence=True)
    s2 = c.create(root + "/seq-", b"", sequence=True)
    assert s1.startswith(root + "/seq-") and len(s1) == len(root + "/seq-") + 10
    assert int(s2[-10:]) == int(s1[-10:]) + 1

    e = c.create(root + "/eph", b"e", ephemeral=True)
    assert c.exists(e).ephemeralOwner == c.client_id[0]
    es = c.create(root + "/eph-seq-", ephemeral=True, sequence=True)
    assert c.exists(es).ephemeralOwner == c.client_id[0]
    assert es[-10:].isdigit()

    deep = c.create(root + "/a/b/c", b"deep", makepath=True)
    assert deep == root + "/a/b/c"
    assert c.get(root + "/a/b")[0] == b""

    path, stat = c.create(root + "/with-stat", b"12345", include_data=True)
    assert path == root + "/with-stat"
    assert isinstance(stat, ZnodeStat)
    assert stat.dataLength == 5 and stat.version == 0 and stat.czxid == stat.mzxid
    path, stat = c.create(root + "/seq2-", sequence=True, include_data=True)
    assert path[-10:].isdigit() and stat.numChildren == 0

    with pytest.raises(NodeExistsError):
        c.create(root + "/plain")
    with pytest.raises(NoNodeError):
        c.create(root + "/missing/child")
    with pytest.raises(NoChildrenForEphemeralsError):
        c.create(e + "/child")

    # ensure_path creates each component, and is idempotent.
    c.ensure_path(root + "/x/y/z")
    c.ensure_path(root + "/x/y/z")
    assert c.exists(root + "/x/y/z") is not None

    # Ephemerals go with the session.
    c.stop()
    other = zk()
    assert other.exists(e) is None and other.exists(es) is None
    assert other.exists(root + "/plain") is not None


def test_get_set_delete_exists(zk, root):
    c = zk()
    p = root + "/n"
    assert c.exists(p) is None
    c.create(p, b"one")
    data, stat = c.get(p)
    assert data == b"one" and stat.version == 0 and stat.dataLength == 3
    st = c.set(p, b"two")
    assert st.version == 1 and st.mzxid > st.czxid
    st = c.set(p, b"three", version=1)
    assert st.version == 2
    with pytest.raises(BadVersionError):
        c.set(p, b"x", version=7)
    assert c.get(p)[0] == b"three"
    ex = c.exists(p)
    assert ex.version == 2 and ex.numChildren == 0

    c.create(p + "/kid")
    with pytest.raises(NotEmptyError):
        c.delete(p)
    with pytest.raises(BadVersionError):
        c.delete(p + "/kid", version=3)
    c.delete(p + "/kid", version=0)
    c.delete(p)
    assert c.exists(p) is None
    with pytest.raises(NoNodeError):
        c.get(p)
    with pytest.raises(NoNodeError):
        c.set(p, b"")
    with pytest.raises(NoNodeError):
        c.delete(p)

    # recursive delete (kazoo walks the tree)
    c.create(p + "/a/b/c", makepath=True)
    c.delete(p, recursive=True)
    assert c.exists(p) is None

    # reserved tree
    assert c.exists("/zookeeper") is not None
    assert "quota" in c.get_children("/zookeeper")


def test_get_children(zk, root):
    c = zk()
    for n in ("b", "a", "c"):
        c.create(root + "/" + n, n.encode())
    assert sorted(c.get_children(root)) == ["a", "b", "c"]
    kids, stat = c.get_children(root, include_data=True)
    assert sorted(kids) == ["a", "b", "c"]
    assert stat.numChildren == 3 and stat.cversion == 3
    with pytest.raises(NoNodeError):
        c.get_children(root + "/nope")
    assert c.get_children(root + "/a") == []


def test_acl_digest(zk, root):
    owner = zk()
    owner.add_auth("digest", "alice:secret")
    acl = make_digest_acl("alice", "secret", all=True)
    assert acl.id.id == "alice:" + make_digest_acl_credential("alice", "secret").split(":", 1)[1]
    p = root + "/private"
    owner.create(p, b"s3cret", acl=[acl])
    assert owner.get(p)[0] == b"s3cret"
    acls, stat = owner.get_acls(p)
    assert acls == [acl] and stat.aversion == 0

    stranger = zk()
    with pytest.raises(NoAuthError):
        stranger.get(p)
    with pytest.raises(NoAuthError):
        stranger.set(p, b"x")
    with pytest.raises(NoAuthError):
        stranger.get_acls(p)
    # exists needs no permission
    assert stranger.exists(p) is not None

    # a wrong password is a different identity: still no access
    stranger.add_auth("digest", "alice:wrong")
    with pytest.raises(NoAuthError):
        stranger.get(p)
    friend = zk(auth_data=[("digest", "alice:secret")])
    assert friend.get(p)[0] == b"s3cret"

    # setACL: world may read, alice keeps all
    read_only = ACL(Permissions.READ, Id("world", "anyone"))
    st = owner.set_acls(p, [acl, read_only])
    assert st.aversion == 1
    with pytest.raises(BadVersionError):
        owner.set_acls(p, [acl], version=0)
    stranger.sync(p)
    assert stranger.get(p)[0] == b"s3cret"
    with pytest.raises(NoAuthError):
        stranger.set(p, b"nope")
    with pytest.raises(NoAuthError):
        stranger.create(p + "/kid")
    # ACLs are not inherited: a child created by alice with the open ACL is open.
    owner.create(p + "/open", b"o")
    stranger.sync(p)
    assert stranger.get(p + "/open")[0] == b"o"

    # the "auth" scheme means every identity of the creator
    auth_acl = ACL(Permissions.ALL, Id("auth", ""))
    owner.create(root + "/by-auth", acl=[auth_acl])
    got, _ = owner.get_acls(root + "/by-auth")
    assert [(a.id.scheme, a.id.id) for a in got] == [("digest", acl.id.id)]

    # (stranger asserted alice:wrong above, so it does have an identity)
    nobody = zk()
    with pytest.raises(InvalidACLError):
        nobody.create(root + "/by-auth-none", acl=[auth_acl])
    # (create() turns acl=[] into the default ACL client-side; create_async sends it)
    with pytest.raises(InvalidACLError):
        owner.create_async(root + "/empty-acl", acl=[]).get(timeout=WAIT)
    with pytest.raises(InvalidACLError):
        owner.create(root + "/bad-scheme", acl=[ACL(Permissions.ALL, Id("bogus", "x"))])


def test_delete_needs_parent_delete_permission(zk, root):
    owner = zk(auth_data=[("digest", "bob:pw")])
    bob = make_digest_acl("bob", "pw", all=True)
    world_rc = ACL(Permissions.READ | Permissions.CREATE, Id("world", "anyone"))
    p = root + "/dir"
    owner.create(p, acl=[bob, world_rc])
    stranger = zk()
    stranger.create(p + "/kid")  # CREATE on the parent
    with pytest.raises(NoAuthError):
        stranger.delete(p + "/kid")  # DELETE on the parent is missing
    owner.delete(p + "/kid")


def test_auth_failed_unknown_scheme(zk):
    c = zk()
    with pytest.raises(AuthFailedError):
        c.add_auth("bogus-scheme", "whatever")


def test_transaction(zk, root):
    c = zk()
    c.create(root + "/a", b"a")
    c.create(root + "/gone", b"")
    t = c.transaction()
    t.check(root + "/a", 0)
    t.create(root + "/b", b"b")
    t.set_data(root + "/a", b"a2")
    t.delete(root + "/gone")
    t.create(root + "/s-", b"", sequence=True)
    res = t.commit()
    assert res[0] is True
    assert res[1] == root + "/b"
    assert isinstance(res[2], ZnodeStat) and res[2].version == 1
    assert res[3] is True
    assert res[4].startswith(root + "/s-") and res[4][-10:].isdigit()
    assert c.get(root + "/a")[0] == b"a2"
    assert c.exists(root + "/gone") is None

    # A failing check: nothing is applied; earlier ops report rolled back, later ones
    # runtime inconsistency.
    t = c.transaction()
    t.create(root + "/never", b"")
    t.set_data(root + "/a", b"a3")
    t.check(root + "/a", 0)  # version is 1 now
    t.delete(root + "/b")
    res = t.commit()
    assert isinstance(res[0], RolledBackError), res
    assert isinstance(res[1], RolledBackError), res
    assert isinstance(res[2], BadVersionError), res
    assert isinstance(res[3], RuntimeInconsistency), res
    assert c.exists(root + "/never") is None
    assert c.get(root + "/a")[0] == b"a2"
    assert c.exists(root + "/b") is not None

    t = c.transaction()
    t.create(root + "/b", b"")
    res = t.commit()
    assert isinstance(res[0], NodeExistsError)

    # with a context manager
    with c.transaction() as t:
        t.create(root + "/cm", b"x")
    assert t.committed and c.exists(root + "/cm") is not None


def test_sync(zk, root):
    c = zk()
    other = zk()
    other.create(root + "/fresh", b"v")
    assert c.sync(root) == root
    assert c.get(root + "/fresh")[0] == b"v"


# FIFO client order under pipelining (issue 8): a session's requests run in the order
# sent, so a read sees every earlier write of the session and none of the later ones.
# Before zkraft kept that order, a get_async between set_async(v1) and set_async(v2)
# returned v2 in 1,362 of 2,000 rounds; ZooKeeper 3.8.0 returns v1 every time. Each
# runs on every kind of member (ZK_MEMBERS): a follower forwards writes, reads locally.
# The ensemble's three members share the machine and sync every write to disk: fewer
# rounds and fewer in flight there keep it to seconds and its leader in place (the
# reordering showed in most rounds).
FIFO_ROUNDS, FIFO_BATCH = (2000, 500) if MEMBERS[0][0] == "hosts" else (200, 100)


def pipelined(c, rounds, batch, send, check):
    """Sends rounds in batches without waiting (send(i, attempt) returns round i's
    async results), then checks each round (check(i, results) says what was wrong, or
    None). A batch cut by a lost connection (a leader change on a loaded machine) says
    nothing about the order and is sent again, twice at most."""
    wrong, attempt, start = [], 0, 0
    while start < rounds:
        sent = [(i, send(i, attempt)) for i in range(start, min(start + batch, rounds))]
        try:
            results = [(i, [a.get(timeout=WAIT) for a in r]) for i, r in sent]
        except ConnectionLoss:
            attempt += 1
            assert attempt <= 2, "the connection was lost three times"
            wait_for(lambda: c.connected, what="the client to reconnect")
            continue
        wrong += [(i, w) for i, res in results for w in [check(i, res)] if w is not None]
        start += batch
    return wrong


@pytest.mark.parametrize("member", [h for _, h in MEMBERS], ids=[n for n, _ in MEMBERS])
def test_fifo_pipelined_get_between_sets(zk, member):
    c = zk(hosts=member)
    path = "/kz-fifo-rw-%s" % uuid.uuid4().hex[:8]
    c.create(path)

    def send(i, attempt):
        return c.set_async(path, b"v1-%d" % i), c.get_async(path), c.set_async(path, b"v2-%d" % i)

    def check(i, res):
        data = res[1][0]
        return None if data == b"v1-%d" % i else data

    wrong = pipelined(c, FIFO_ROUNDS, FIFO_BATCH, send, check)
    c.delete(path)
    assert not wrong, "%d of %d gets pipelined between set(v1) and set(v2) did not return v1; first (round, data): %r" % (
        len(wrong), FIFO_ROUNDS, wrong[:5])


@pytest.mark.parametrize("member", [h for _, h in MEMBERS], ids=[n for n, _ in MEMBERS])
def test_fifo_pipelined_create_exists_delete(zk, member):
    c = zk(hosts=member)
    base = "/kz-fifo-ced-%s-" % uuid.uuid4().hex[:8]

    def send(i, attempt):
        p = base + "%d-%d" % (attempt, i)
        return c.create_async(p), c.exists_async(p), c.delete_async(p), c.exists_async(p)

    def check(i, res):
        created, before, _, after = res
        if before is None or after is not None:
            return "exists before delete: %s, after: %s" % (before is not None, after is not None)

    wrong = pipelined(c, 100, 100, send, check)
    assert not wrong, "%d of 100 pipelined create/exists/delete/exists rounds saw the wrong node; first: %r" % (
        len(wrong), wrong[:5])


def test_watches(zk, root):
    c = zk()
    w = zk()
    p = root + "/watched"

    # one-shot watches via the plain API
    events = []
    got = threading.Event()

    def on_event(ev):
        events.append(ev)
        got.set()

    assert c.exists(p, watch=on_event) is None
    w.create(p, b"0")
    assert got.wait(WAIT)
    assert events[-1] == WatchedEvent(EventType.CREATED, "CONNECTED", p)

    got.clear()
    c.get(p, watch=on_event)
    w.set(p, b"1")
    assert got.wait(WAIT)
    assert events[-1].type == EventType.CHANGED and events[-1].path == p

    got.clear()
    c.get_children(p, watch=on_event)
    w.create(p + "/k")
    assert got.wait(WAIT)
    assert events[-1].type == EventType.CHILD and events[-1].path == p

    # DataWatch: called at once, then on every change, then with None on delete
    calls = []
    @c.DataWatch(p)
    def data_watch(data, stat, event=None):
        calls.append((data, stat.version if stat else None, event.type if event else None))

    wait_for(lambda: len(calls) >= 1, what="first DataWatch call")
    assert calls[0][:2] == (b"1", 1)
    w.set(p, b"2")
    wait_for(lambda: any(d == b"2" for d, _, _ in calls), what="DataWatch change")

    kids = []
    @c.ChildrenWatch(p)
    def children_watch(children):
        kids.append(sorted(children))

    wait_for(lambda: kids and kids[-1] == ["k"], what="first ChildrenWatch call")
    w.create(p + "/l")
    wait_for(lambda: kids[-1] == ["k", "l"], what="ChildrenWatch add")
    w.delete(p + "/k")
    wait_for(lambda: kids[-1] == ["l"], what="ChildrenWatch remove")

    w.delete(p, recursive=True)
    wait_for(lambda: calls[-1][0] is None and calls[-1][2] == EventType.DELETED,
             what="DataWatch deletion")


def test_reconnect_keeps_session(zk, root):
    """A dropped connection resumes the same session: its ephemerals stay. (kazoo 2.8
    fires its watchers with a NONE event and forgets them on connection loss, so it
    never sends setWatches; new watches work after the reconnect.)"""
    c = zk()
    w = zk()
    p = root + "/rw"
    w.create(p, b"0")
    e = c.create(root + "/eph", ephemeral=True)
    events = []
    got = threading.Event()

    def on_event(ev):
        events.append(ev)
        got.set()

    c.sync(p)
    c.get(p, watch=on_event)
    sid = c.client_id[0]
    states = []
    c.add_listener(states.append)
    c._call(_CONNECTION_DROP, None)
    wait_for(lambda: KazooState.SUSPENDED in states, what="SUSPENDED")
    wait_for(lambda: states[-1] == KazooState.CONNECTED, what="reconnect")
    assert c.client_id[0] == sid
    assert got.wait(WAIT) and events[0].type == EventType.NONE
    w.sync(e)
    assert w.exists(e).ephemeralOwner == sid

    got.clear()
    del events[:]
    assert c.get(p, watch=on_event)[0] == b"0"
    w.set(p, b"1")
    assert got.wait(WAIT)
    assert events == [WatchedEvent(EventType.CHANGED, "CONNECTED", p)]


def test_lock(zk, root):
    c1, c2 = zk(), zk()
    path = root + "/lock"
    l1 = c1.Lock(path, "one")
    l2 = c2.Lock(path, "two")
    assert l1.acquire(timeout=WAIT)
    with pytest.raises(LockTimeout):
        l2.acquire(timeout=0.5)
    c1.sync(path)  # l2 removed its node on c2's member
    assert l1.contenders() == ["one"]

    inside = []
    overlap = []
    done = []

    def worker(lock, name, n):
        for _ in range(n):
            with lock:
                inside.append(name)
                if len(inside) > 1:
                    overlap.append(list(inside))
                time.sleep(0.01)
                inside.remove(name)
        done.append(name)

    l1.release()
    t1 = threading.Thread(target=worker, args=(c1.Lock(path, "a"), "a", 10))
    t2 = threading.Thread(target=worker, args=(c2.Lock(path, "b"), "b", 10))
    t1.start(); t2.start()
    t1.join(3 * WAIT); t2.join(3 * WAIT)
    assert sorted(done) == ["a", "b"], "workers did not finish"
    assert overlap == []

    # A lock held by a session that ends is released.
    assert l2.acquire(timeout=WAIT)
    waiter = c1.Lock(path, "w")
    c2.stop()
    assert waiter.acquire(timeout=WAIT)
    waiter.release()


def test_election(zk, root):
    c1, c2 = zk(), zk()
    path = root + "/election"
    e1 = c1.Election(path, "first")
    e2 = c2.Election(path, "second")
    leading = []
    stop1 = threading.Event()

    def lead(name, stop):
        leading.append(name)
        stop.wait(WAIT)

    t1 = threading.Thread(target=e1.run, args=(lead, "first", stop1))
    t1.start()
    wait_for(lambda: leading == ["first"], what="first leader")
    stop2 = threading.Event()
    t2 = threading.Thread(target=e2.run, args=(lead, "second", stop2))
    t2.start()
    wait_for(lambda: len(e1.contenders()) == 2, what="two contenders")
    assert e1.contenders() == ["first", "second"]
    assert leading == ["first"]
    stop1.set()
    t1.join(WAIT)
    wait_for(lambda: leading == ["first", "second"], what="second leader")
    stop2.set()
    t2.join(WAIT)
    assert not t1.is_alive() and not t2.is_alive()


def test_party(zk, root):
    c1, c2 = zk(), zk()
    path = root + "/party"
    p1 = c1.Party(path, "alice")
    p2 = c2.Party(path, "bob")
    p1.join()
    p2.join()
    c1.sync(path)
    assert sorted(p1) == ["alice", "bob"]
    assert len(p2) == 2
    p1.leave()
    c2.sync(path)
    assert list(p2) == ["bob"]
    sp = c1.ShallowParty(path + "-shallow", "carol")
    sp.join()
    c2.sync(path + "-shallow")
    assert list(c2.ShallowParty(path + "-shallow")) == ["carol"]
    c2.stop()  # ephemeral membership ends with the session
    c1.sync(path)
    assert list(c1.Party(path)) == []


def test_counter(zk, root):
    # Counter is a compare-and-set loop: under contention (and, on an ensemble, with
    # a member that has not yet applied the other client's last increment) a set
    # meets BADVERSION and is retried; the default 3 tries are not enough for that.
    retry = dict(command_retry=KazooRetry(max_tries=-1, deadline=WAIT))
    c1, c2 = zk(**retry), zk(**retry)
    path = root + "/counter"
    k = c1.Counter(path)
    k += 5
    k -= 2
    assert k.value == 3
    f = c1.Counter(path + "-f", default=0.0)
    f += 1.5
    assert f.value == 1.5

    errors = []

    def bump(client):
        try:
            cnt = client.Counter(path)
            for _ in range(20):
                cnt += 1
        except Exception as e:  # a dead thread would otherwise only lose its increments
            errors.append(repr(e))

    ts = [threading.Thread(target=bump, args=(c,)) for c in (c1, c2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(3 * WAIT)
    assert errors == []
    c2.sync(path)
    assert c2.Counter(path).value == 43


def test_tree_cache(zk, root):
    c = zk()
    w = zk()
    base = root + "/tree"
    w.create(base + "/a/x", b"ax", makepath=True)
    w.create(base + "/b", b"b")
    c.sync(base)
    events = []
    cache = TreeCache(c, base)
    cache.listen(lambda ev: events.append((ev.event_type, ev.event_data.path if ev.event_data else None)))
    cache.start()
    try:
        wait_for(lambda: (TreeEvent.INITIALIZED, None) in events, what="TreeCache INITIALIZED")
        added = {p for t, p in events if t == TreeEvent.NODE_ADDED}
        assert added == {base, base + "/a", base + "/a/x", base + "/b"}
        assert cache.get_data(base + "/a/x").data == b"ax"
        assert sorted(cache.get_children(base)) == ["a", "b"]

        w.set(base + "/b", b"b2")
        wait_for(lambda: (TreeEvent.NODE_UPDATED, base + "/b") in events, what="NODE_UPDATED")
        wait_for(lambda: cache.get_data(base + "/b").data == b"b2", what="cache data")
        w.create(base + "/a/y", b"ay")
        wait_for(lambda: (TreeEvent.NODE_ADDED, base + "/a/y") in events, what="NODE_ADDED")
        w.delete(base + "/a/x")
        wait_for(lambda: (TreeEvent.NODE_REMOVED, base + "/a/x") in events, what="NODE_REMOVED")
        assert sorted(cache.get_children(base + "/a")) == ["y"]
    finally:
        cache.close()


def test_session_expiry(zk, root):
    """Another client resumes the session and closes it: the first client's session is
    expired (LOST), its ephemerals are gone, and kazoo starts a new session."""
    # Both clients use one server: ZooKeeper closes a resumed session's old connection
    # only when both are on one server (elsewhere the old one learns SESSIONMOVED on
    # its next request). The first client reconnects slowly, so that it does not take
    # the session back from the thief before the thief closes it: two clients resuming
    # one session take it from each other for as long as both retry.
    one = HOSTS.split(",")[0]
    c = zk(hosts=one, connection_retry=KazooRetry(max_tries=-1, delay=2.0, max_delay=2.0, deadline=3 * WAIT))
    e = c.create(root + "/eph", ephemeral=True)
    sid, passwd = c.client_id
    states = []
    c.add_listener(states.append)

    thief = KazooClient(hosts=one, client_id=(sid, passwd), timeout=10.0)
    thief.start(timeout=WAIT)
    assert thief.client_id[0] == sid
    # Resuming a session elsewhere closes its old connection (ZooKeeperServer
    # .processConnectRequest closes it before reopening the session).
    wait_for(lambda: KazooState.SUSPENDED in states, what="the old connection closed")
    thief.stop()
    thief.close()

    observer = zk()
    assert observer.exists(e) is None
    wait_for(lambda: KazooState.LOST in states, what="LOST after the session was closed")
    wait_for(lambda: c.connected and c.client_id[0] != sid, what="a new session")
    c.create(root + "/after", ephemeral=True)


def test_wrong_password_expires(zk):
    c = zk()
    sid, passwd = c.client_id
    bad = bytes(16 if b == 0 else 0 for b in passwd[:16])
    x = KazooClient(hosts=HOSTS, client_id=(sid, bad), timeout=10.0)
    try:
        x.start(timeout=WAIT)
        wait_for(lambda: x.connected, what="a fresh session")
        assert x.client_id[0] != sid
    finally:
        x.stop()
        x.close()
    # ZooKeeper closes the session's other connection before it checks the password;
    # the owner reconnects with the right one and keeps its session.
    wait_for(lambda: c.connected, what="the owner connected")
    assert c.client_id[0] == sid
