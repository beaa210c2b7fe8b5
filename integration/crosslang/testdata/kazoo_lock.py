"""Holds a kazoo Lock on argv[2] at server argv[1], driven by lines on stdin.

Prints WAITING before acquiring, ACQUIRED once held, RELEASED after "release".
"""
import sys

from kazoo.client import KazooClient

zk = KazooClient(hosts=sys.argv[1], timeout=2.0)
zk.start(timeout=10)
lock = zk.Lock(sys.argv[2], "kazoo")
print("WAITING", flush=True)
lock.acquire(timeout=30)
print("ACQUIRED", flush=True)
for line in sys.stdin:
    if line.strip() == "release":
        lock.release()
        print("RELEASED", flush=True)
        break
zk.stop()
zk.close()
