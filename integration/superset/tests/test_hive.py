"""HiveServer2 / Kyuubi endpoint discovery: nodes published by separate processes,
resolved to SQLAlchemy URIs; a dead publisher drops out."""

import os
import random
import time

from sqlalchemy.engine.url import make_url

from conftest import PYTHON, SESSION_TIMEOUT, wait_for
from zkraft_superset.hive import (db_connection_mutator, endpoint_uri, from_jdbc_url, list_endpoints, parse_node,
                                  resolve_uri)


def publish(procs, zk_hosts, namespace, flavor, name):
    p = procs.spawn([PYTHON, os.path.join(os.path.dirname(__file__), "hs2_publisher.py"), zk_hosts, namespace,
                     flavor, str(SESSION_TIMEOUT)], name)
    assert procs.wait_output(p, "published", 20), procs.dump()
    [line] = [l for l in procs.output(p).splitlines() if l.startswith("published ")]
    return p, line.split()[1]


def test_hiveserver2_resolve_and_failover(zk, zk_hosts, root, procs, control):
    ns = root.lstrip("/") + "/hiveserver2"
    (p1, a1), (p2, a2) = publish(procs, zk_hosts, ns, "hive", "hs2-1"), publish(procs, zk_hosts, ns, "hive", "hs2-2")
    eps = list_endpoints(zk, ns)
    assert [e.address for e in eps] == [a1, a2]  # sequence order
    assert all(e.version == "3.1.3" and e.transport_mode == "binary" and e.auth == "NONE" for e in eps)
    assert resolve_uri(zk, ns, pick="first") == "hive://%s/default" % a1
    got = {resolve_uri(zk, ns, rng=random.Random(i)) for i in range(30)}
    assert got == {"hive://%s/default" % a1, "hive://%s/default" % a2}
    u = make_url(resolve_uri(zk, ns, database="sales", username="superset", query={"configuration": "x"}))
    assert (u.drivername, u.username, u.database, u.query["configuration"]) == ("hive", "superset", "sales", "x")
    assert "%s:%d" % (u.host, u.port) in (a1, a2)

    killed = control.kill_leader()
    assert {e.address for e in list_endpoints(zk, ns)} == {a1, a2}, killed

    # The first server dies. A probe skips it at once; the listing drops it when its
    # session expires.
    procs.kill9(p1)
    for i in range(10):
        assert resolve_uri(zk, ns, probe=True, rng=random.Random(i)) == "hive://%s/default" % a2
    t0 = time.monotonic()
    wait_for(lambda: [e.address for e in list_endpoints(zk, ns)] == [a2], SESSION_TIMEOUT + 10,
             what="the dead HiveServer2 to drop out")
    print("dead HiveServer2 dropped after %.1fs" % (time.monotonic() - t0))
    assert {resolve_uri(zk, ns, rng=random.Random(i)) for i in range(10)} == {"hive://%s/default" % a2}

    procs.kill9(p2)
    wait_for(lambda: list_endpoints(zk, ns) == [], SESSION_TIMEOUT + 10, what="no HiveServer2 left")
    try:
        resolve_uri(zk, ns)
    except LookupError as e:
        assert ns in str(e)
    else:
        raise AssertionError("resolved with no server")


def test_kyuubi_namespaces(zk, zk_hosts, root, procs):
    default_ns = root.lstrip("/") + "/kyuubi"
    custom_ns = root.lstrip("/") + "/kyuubi_prod"  # kyuubi.ha.namespace=kyuubi_prod
    (_, k1) = publish(procs, zk_hosts, default_ns, "kyuubi", "kyuubi-1")
    (pk2, k2) = publish(procs, zk_hosts, custom_ns, "kyuubi", "kyuubi-2")
    (_, k3) = publish(procs, zk_hosts, custom_ns, "kyuubi", "kyuubi-3")
    assert resolve_uri(zk, default_ns) == "hive://%s/default" % k1
    [e] = list_endpoints(zk, default_ns)
    assert e.version == "1.8.0"
    assert {resolve_uri(zk, custom_ns, rng=random.Random(i)) for i in range(30)} == {
        "hive://%s/default" % k2, "hive://%s/default" % k3}
    procs.kill9(pk2)
    wait_for(lambda: [e.address for e in list_endpoints(zk, custom_ns)] == [k3], SESSION_TIMEOUT + 10,
             what="the dead Kyuubi server to drop out")
    assert resolve_uri(zk, custom_ns, scheme="kyuubi") == "kyuubi://%s/default" % k3


def test_parse_node_forms():
    e = parse_node("serverUri=h1:10000;version=3.1.3;sequence=0000000007",
                   b"hive.server2.thrift.bind.host=h2;hive.server2.thrift.port=10001;"
                   b"hive.server2.authentication=KERBEROS;"
                   b"hive.server2.authentication.kerberos.principal=hive/_HOST@EXAMPLE.COM")
    assert (e.host, e.port) == ("h2", 10001)  # the data wins, as in Hive's JDBC driver
    assert endpoint_uri(e) == "hive://h2:10001/default?auth=KERBEROS&kerberos_service_name=hive"
    e = parse_node("serverUri=h1:10000;version=3.1.3;sequence=0000000008",
                   b"hive.server2.thrift.bind.host=h1;hive.server2.transport.mode=http;"
                   b"hive.server2.thrift.http.port=10001;hive.server2.thrift.http.path=cliservice;"
                   b"hive.server2.use.SSL=true")
    assert endpoint_uri(e) == "hive+https://h1:10001/default"
    assert (parse_node("serverUri=h3:10009;version=1.8.0;sequence=0000000001", b"").address) == "h3:10009"
    assert parse_node("serverUri=h4:10000;version=2.3.9;sequence=0000000002", b"h4:10000").address == "h4:10000"
    assert parse_node("garbage", b"nothing here") is None
    assert from_jdbc_url("jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper;"
                         "zooKeeperNamespace=hiveserver2_prod") == ("zk1:2181,zk2:2181", "hiveserver2_prod")


def test_db_connection_mutator(zk, zk_hosts, root, procs):
    ns = root.lstrip("/") + "/hiveserver2"
    _, a1 = publish(procs, zk_hosts, ns, "hive-plain", "hs2-plain")
    mutate = db_connection_mutator(zk, {"hiveserver2.zk": ns})
    uri, params = mutate(make_url("hive://superset@hiveserver2.zk/sales"), {"connect_args": {}}, "admin", None, None)
    assert "%s:%d" % (uri.host, uri.port) == a1 and uri.database == "sales" and uri.username == "superset"
    other = make_url("postgresql://u@db:5432/x")
    assert mutate(other, {}, "admin", None, None)[0] is other
