"""A registry of live Superset web nodes.

Each web node keeps an ephemeral sequential znode <base>/<host>:<port>-<seq> whose data
is JSON {"host", "port", "version", "pid", "started_at", ...extra}. It vanishes when the
node's session ends (clean stop, or crash + session timeout) and is re-created when a
lost session is replaced by a new one. Readers (a load balancer's config generator, an
operator) list the children::

    python3 -m zkraft_superset.registry --hosts zk1:2181 list --format upstream
"""

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time

from kazoo.exceptions import KazooException, NoNodeError
from kazoo.protocol.states import KazooState

from ._zk import make_client

log = logging.getLogger("zkraft_superset.registry")

DEFAULT_BASE = "/superset/webnodes"


class WebNodeRegistry:
    """Registers this web node while its session lives."""

    def __init__(self, client, host=None, port=8088, version=None, base=DEFAULT_BASE, extra=None):
        self.client = client
        self.host = host or socket.getfqdn()
        self.port = int(port)
        self.base = base.rstrip("/")
        self.info = dict(extra or {})
        self.info.update({"host": self.host, "port": self.port, "version": version, "pid": os.getpid()})
        self.path = None
        self._lock = threading.Lock()
        self._lost = False
        self._stopped = False

    def start(self):
        self.client.add_listener(self._on_state)
        self._register()
        return self

    def _register(self):
        with self._lock:
            if self._stopped:
                return
            info = dict(self.info, started_at=time.time())
            data = json.dumps(info, sort_keys=True).encode()
            prefix = "%s/%s:%d-" % (self.base, self.host, self.port)
            self.path = self.client.retry(self.client.create, prefix, data, ephemeral=True, sequence=True,
                                          makepath=True)
            log.info("zkraft_superset.registry: registered %s", self.path)

    def _register_later(self):
        try:
            self._register()
        except KazooException as e:
            log.warning("zkraft_superset.registry: re-registering failed: %s; will retry on reconnect", e)
            self._lost = True

    def _on_state(self, state):
        if state == KazooState.LOST:
            self._lost = True
        elif state == KazooState.CONNECTED and self._lost:
            # A new session: the old ephemeral is gone. Don't block the event thread.
            self._lost = False
            self.client.handler.spawn(self._register_later)
        return False

    def stop(self):
        with self._lock:
            self._stopped = True
            path, self.path = self.path, None
        self.client.remove_listener(self._on_state)
        if path:
            try:
                self.client.delete(path)
            except (NoNodeError, KazooException):
                pass


def list_web_nodes(client, base=DEFAULT_BASE, sync=True):
    """The live web nodes: a list of dicts (the registered JSON plus "znode" and
    "session", the owner session id in hex), sorted by host and port. With sync, the
    member this client talks to first catches up with the leader."""
    base = base.rstrip("/")
    try:
        if sync:
            client.retry(client.sync, base)
        children = client.retry(client.get_children, base)
    except NoNodeError:
        return []
    out = []
    for name in children:
        try:
            data, stat = client.retry(client.get, base + "/" + name)
        except NoNodeError:
            continue  # ended between the listing and the read
        try:
            info = json.loads(data.decode())
            if not isinstance(info, dict):
                raise ValueError("not an object")
        except ValueError as e:
            log.warning("zkraft_superset.registry: ignoring %s/%s: %s", base, name, e)
            continue
        info["znode"] = name
        info["session"] = "0x%x" % stat.ephemeralOwner
        out.append(info)
    out.sort(key=lambda i: (str(i.get("host")), i.get("port") or 0, i["znode"]))
    return out


def watch_web_nodes(client, callback, base=DEFAULT_BASE):
    """Call callback(nodes) now and after every change of the set of web nodes."""
    base = base.rstrip("/")
    client.retry(client.ensure_path, base)

    def changed(children):
        client.handler.spawn(lambda: callback(list_web_nodes(client, base)))

    return client.ChildrenWatch(base, changed)


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m zkraft_superset.registry")
    p.add_argument("--hosts", default=os.environ.get("ZK_HOSTS", "127.0.0.1:2181"))
    p.add_argument("--base", default=DEFAULT_BASE)
    p.add_argument("--session-timeout", type=float, default=10.0)
    sub = p.add_subparsers(dest="cmd", required=True)
    ls = sub.add_parser("list", help="print the live web nodes")
    ls.add_argument("--format", choices=["json", "upstream", "hostport"], default="json")
    reg = sub.add_parser("register", help="register a web node until SIGTERM (a sidecar)")
    reg.add_argument("--host", default=None)
    reg.add_argument("--port", type=int, default=8088)
    reg.add_argument("--version", default=None)
    a = p.parse_args(argv)
    client = make_client(a.hosts, session_timeout=a.session_timeout)
    client.start(timeout=30)
    try:
        if a.cmd == "list":
            nodes = list_web_nodes(client, a.base)
            if a.format == "json":
                print(json.dumps(nodes, indent=2, sort_keys=True))
            else:
                for n in nodes:
                    hp = "%s:%s" % (n.get("host"), n.get("port"))
                    print("server %s;" % hp if a.format == "upstream" else hp)
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        r = WebNodeRegistry(client, a.host, a.port, a.version, base=a.base).start()
        print("registered %s" % r.path, flush=True)
        while not stop.wait(1):
            pass
        r.stop()
        return 0
    finally:
        client.stop()
        client.close()


if __name__ == "__main__":
    sys.exit(main())
