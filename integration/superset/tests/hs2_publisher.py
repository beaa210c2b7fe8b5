"""Publish a HiveServer2 or Kyuubi endpoint the way they do: an ephemeral sequential
child of the namespace from its own ZooKeeper session. It also listens on the
published port (so a TCP probe finds it) until killed.

    hs2_publisher.py HOSTS NAMESPACE hive|kyuubi|hive-plain SESSION_TIMEOUT
"""

import socket
import sys
import time

from kazoo.client import KazooClient


def main():
    hosts, namespace, flavor, timeout = sys.argv[1:5]
    ln = socket.socket()
    ln.bind(("127.0.0.1", 0))
    ln.listen(8)
    host, port = ln.getsockname()
    c = KazooClient(hosts=hosts, timeout=float(timeout))
    c.start(timeout=15)
    ns = "/" + namespace.strip("/")
    c.ensure_path(ns)
    uri = "%s:%d" % (host, port)
    if flavor == "hive":
        name = "serverUri=%s;version=3.1.3;sequence=" % uri
        data = ("hive.server2.instance.uri=%s;hive.server2.authentication=NONE;hive.server2.transport.mode=binary;"
                "hive.server2.thrift.sasl.qop=auth;hive.server2.thrift.bind.host=%s;hive.server2.thrift.port=%d;"
                "hive.server2.use.SSL=false" % (uri, host, port))
    elif flavor == "hive-plain":
        name = "serverUri=%s;version=2.3.9;sequence=" % uri
        data = uri
    else:
        name = "serverUri=%s;version=1.8.0;sequence=" % uri
        data = uri
    path = c.create(ns + "/" + name, data.encode(), ephemeral=True, sequence=True)
    print("published %s %s" % (uri, path), flush=True)
    deadline = time.monotonic() + 300
    ln.settimeout(0.5)
    while time.monotonic() < deadline:
        try:
            conn, _ = ln.accept()
            conn.close()
        except socket.timeout:
            pass


if __name__ == "__main__":
    main()
