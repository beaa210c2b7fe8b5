"""Web-node registry: ephemeral znodes appear when a node starts and vanish when its
process dies (session expiry) or stops."""

import json
import subprocess
import time

from conftest import PYTHON, SESSION_TIMEOUT, expire_session, wait_for
from zkraft_superset.registry import WebNodeRegistry, list_web_nodes, watch_web_nodes


def addrs(nodes):
    return sorted("%s:%s" % (n["host"], n["port"]) for n in nodes)


def sidecar(procs, zk_hosts, base, port):
    return procs.spawn([PYTHON, "-m", "zkraft_superset.registry", "--hosts", zk_hosts, "--base", base,
                        "--session-timeout", str(SESSION_TIMEOUT), "register", "--host", "127.0.0.1",
                        "--port", str(port), "--version", "4.0.2"], "web%d" % port)


def test_nodes_appear_and_vanish(zk, zk_hosts, root, procs, control):
    base = root + "/webnodes"
    seen = []
    watch_web_nodes(zk, lambda nodes: seen.append(addrs(nodes)), base=base)
    w1, w2 = sidecar(procs, zk_hosts, base, 8088), sidecar(procs, zk_hosts, base, 8089)
    wait_for(lambda: addrs(list_web_nodes(zk, base)) == ["127.0.0.1:8088", "127.0.0.1:8089"], 20,
             what="both web nodes\n" + procs.dump())
    nodes = list_web_nodes(zk, base)
    assert {n["version"] for n in nodes} == {"4.0.2"}
    assert {n["pid"] for n in nodes} == {w1.pid, w2.pid}
    assert all(n["znode"].startswith("127.0.0.1:808") and n["session"] != "0x0" for n in nodes)
    wait_for(lambda: seen and seen[-1] == ["127.0.0.1:8088", "127.0.0.1:8089"], 10, what="the watcher")

    # The reader's command line, as a load balancer's config generator would use it.
    out = subprocess.run([PYTHON, "-m", "zkraft_superset.registry", "--hosts", zk_hosts, "--base", base, "list",
                          "--format", "upstream"], capture_output=True, text=True, timeout=30,
                         env={"PYTHONPATH": ".", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["server 127.0.0.1:8088;", "server 127.0.0.1:8089;"]

    # A leader stop does not end the sessions.
    killed = control.kill_leader()
    time.sleep(1.5)
    assert addrs(list_web_nodes(zk, base)) == ["127.0.0.1:8088", "127.0.0.1:8089"], killed

    # kill -9: gone once the session expires.
    t0 = time.monotonic()
    procs.kill9(w1)
    wait_for(lambda: addrs(list_web_nodes(zk, base)) == ["127.0.0.1:8089"], SESSION_TIMEOUT + 10,
             what="the killed node to vanish")
    assert time.monotonic() - t0 > SESSION_TIMEOUT * 0.5  # by expiry, not by anything else
    wait_for(lambda: seen[-1] == ["127.0.0.1:8089"], 10, what="the watcher to see it go")

    # A clean stop (SIGTERM) removes the node at once; a restart registers again.
    w2.terminate()
    assert w2.wait(15) == 0
    wait_for(lambda: list_web_nodes(zk, base) == [], 3, what="the stopped node to vanish")
    w3 = sidecar(procs, zk_hosts, base, 8088)
    wait_for(lambda: addrs(list_web_nodes(zk, base)) == ["127.0.0.1:8088"], 20, what="the restarted node")
    assert list_web_nodes(zk, base)[0]["pid"] == w3.pid


def test_reregisters_after_session_expiry(zk_hosts, clients, root, zk):
    base = root + "/webnodes"
    c = clients()
    reg = WebNodeRegistry(c, "10.0.0.5", 8088, version="4.0.2", base=base, extra={"zone": "a"}).start()
    first = reg.path
    [node] = list_web_nodes(zk, base)
    assert node["zone"] == "a" and node["host"] == "10.0.0.5" and node["port"] == 8088

    sid = c.client_id[0]
    expire_session(c, zk_hosts)
    assert c.client_id and c.client_id[0] != sid
    wait_for(lambda: reg.path != first and len(list_web_nodes(zk, base)) == 1, 15, what="re-registration")
    [node] = list_web_nodes(zk, base)
    assert node["session"] == "0x%x" % c.client_id[0]
    reg.stop()
    assert list_web_nodes(zk, base) == []
    json.dumps(node)
