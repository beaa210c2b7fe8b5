"""HiveServer2 / Kyuubi high availability: endpoints published in ZooKeeper, as a
SQLAlchemy URI for Superset.

HiveServer2 (hive.server2.support.dynamic.service.discovery=true) keeps an ephemeral
sequential child of /<hive.server2.zookeeper.namespace> (default hiveserver2) per live
server, named "serverUri=host:port;version=3.1.3;sequence=0000000001"; its data is
either "host:port" or the published settings
"hive.server2.thrift.bind.host=h;hive.server2.thrift.port=10000;hive.server2.transport.mode=binary;...".
Kyuubi does the same under /<kyuubi.ha.namespace> (default kyuubi). The data, when it
names the host and port, wins over the name, as in Hive's JDBC driver.

    resolve_uri(zk, "hiveserver2")                  -> "hive://10.0.0.7:10000/default"
    resolve_uri(zk, "kyuubi", username="superset")  -> "hive://superset@10.0.0.9:10009/default"
"""

import random
import socket
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from kazoo.exceptions import NoNodeError

HIVE_NAMESPACE = "hiveserver2"
KYUUBI_NAMESPACE = "kyuubi"


@dataclass
class Endpoint:
    host: str
    port: int
    znode: str
    version: str = None
    transport_mode: str = "binary"
    http_path: str = None
    ssl: bool = False
    auth: str = None
    kerberos_service_name: str = None
    conf: dict = field(default_factory=dict)

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)


def _pairs(text):
    out = {}
    for part in text.split(";"):
        k, sep, v = part.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def _hostport(s):
    host, sep, port = s.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def parse_node(name, data):
    """An Endpoint from a published child's name and data, or None if it names no
    host:port."""
    attrs = _pairs(name)
    text = (data or b"").decode("utf-8", "replace").strip()
    conf = _pairs(text) if "=" in text else {}
    mode = conf.get("hive.server2.transport.mode", "binary").lower()
    hp = None
    host = conf.get("hive.server2.thrift.bind.host")
    port = conf.get("hive.server2.thrift.http.port" if mode == "http" else "hive.server2.thrift.port")
    if host and port and port.isdigit():
        hp = (host, int(port))
    if hp is None and "serverUri" in attrs:
        hp = _hostport(attrs["serverUri"])
    if hp is None and "hive.server2.instance.uri" in conf:
        hp = _hostport(conf["hive.server2.instance.uri"])
    if hp is None and text and "=" not in text:
        hp = _hostport(text)
    if hp is None:
        return None
    auth = conf.get("hive.server2.authentication")
    ksn = None
    principal = conf.get("hive.server2.authentication.kerberos.principal")
    if principal:
        ksn = principal.split("/")[0].split("@")[0]
    return Endpoint(host=hp[0], port=hp[1], znode=name, version=attrs.get("version"), transport_mode=mode,
                    http_path=conf.get("hive.server2.thrift.http.path"),
                    ssl=conf.get("hive.server2.use.SSL", "false").lower() == "true",
                    auth=auth.upper() if auth else None, kerberos_service_name=ksn, conf=conf)


def _ns_path(namespace):
    return "/" + namespace.strip("/")


def list_endpoints(client, namespace=HIVE_NAMESPACE, sync=True):
    """The endpoints published under namespace, in sequence order. With sync, the
    member this client talks to first catches up with the leader, so a server
    published a moment ago through another member is seen."""
    path = _ns_path(namespace)
    try:
        if sync:
            client.retry(client.sync, path)
        children = client.retry(client.get_children, path)
    except NoNodeError:
        return []
    out = []
    for name in sorted(children, key=lambda n: (_pairs(n).get("sequence", ""), n)):
        try:
            data, _ = client.retry(client.get, path + "/" + name)
        except NoNodeError:
            continue  # the server's session ended between the listing and the read
        ep = parse_node(name, data)
        if ep is not None:
            out.append(ep)
    return out


def reachable(ep, timeout=1.0):
    try:
        socket.create_connection((ep.host, ep.port), timeout=timeout).close()
        return True
    except OSError:
        return False


def pick_endpoint(client, namespace=HIVE_NAMESPACE, pick="random", probe=False, probe_timeout=1.0, rng=None):
    """One live endpoint: the first in sequence order or a random one; with probe,
    only among those accepting a TCP connection. Raises LookupError if there is none."""
    eps = list_endpoints(client, namespace)
    if probe:
        eps = [e for e in eps if reachable(e, probe_timeout)]
    if not eps:
        raise LookupError("no %sendpoint published under %s" % ("reachable " if probe else "", _ns_path(namespace)))
    if pick == "first":
        return eps[0]
    if pick != "random":
        raise ValueError("pick must be 'random' or 'first'")
    return (rng or random).choice(eps)


def endpoint_uri(ep, database="default", scheme=None, username=None, password=None, query=None):
    """The SQLAlchemy URI (PyHive dialects) for an endpoint."""
    if scheme is None:
        scheme = "hive"
        if ep.transport_mode == "http":
            scheme = "hive+https" if ep.ssl else "hive+http"
    q = {}
    if ep.auth and ep.auth not in ("NONE",):
        q["auth"] = ep.auth
    if ep.auth == "KERBEROS" and ep.kerberos_service_name:
        q["kerberos_service_name"] = ep.kerberos_service_name
    q.update(query or {})
    user = ""
    if username:
        user = quote(username, safe="")
        if password:
            user += ":" + quote(password, safe="")
        user += "@"
    host = "[%s]" % ep.host if ":" in ep.host else ep.host
    uri = "%s://%s%s:%d/%s" % (scheme, user, host, ep.port, quote(database or "", safe=""))
    if q:
        uri += "?" + urlencode(sorted(q.items()))
    return uri


def resolve_uri(client, namespace=HIVE_NAMESPACE, database="default", scheme=None, username=None,
                password=None, query=None, pick="random", probe=False, probe_timeout=1.0, rng=None):
    """List the namespace, pick a live server and return its SQLAlchemy URI."""
    ep = pick_endpoint(client, namespace, pick=pick, probe=probe, probe_timeout=probe_timeout, rng=rng)
    return endpoint_uri(ep, database=database, scheme=scheme, username=username, password=password, query=query)


def from_jdbc_url(url):
    """(zookeeper hosts, namespace) from a Hive JDBC discovery URL such as
    jdbc:hive2://zk1:2181,zk2:2181/;serviceDiscoveryMode=zooKeeper;zooKeeperNamespace=hiveserver2"""
    rest = url.split("://", 1)[1] if "://" in url else url
    hosts, _, params = rest.partition("/")
    conf = _pairs(params.lstrip(";"))
    return hosts, conf.get("zooKeeperNamespace", HIVE_NAMESPACE)


def db_connection_mutator(client, placeholders, pick="random", probe=True, next_mutator=None):
    """A DB_CONNECTION_MUTATOR for superset_config.py: a database whose SQLAlchemy URI
    names a placeholder host (say hive://hiveserver2.zk/default) connects to a live
    server of the mapped namespace (placeholders={"hiveserver2.zk": "hiveserver2"}).
    client is a started KazooClient or a function returning one."""

    def mutate(uri, params, username, security_manager, source):
        if next_mutator is not None:
            uri, params = next_mutator(uri, params, username, security_manager, source)
        ns = placeholders.get(getattr(uri, "host", None))
        if ns is None:
            return uri, params
        c = client() if callable(client) else client
        ep = pick_endpoint(c, ns, pick=pick, probe=probe)
        return uri.set(host=ep.host, port=ep.port), params

    return mutate
