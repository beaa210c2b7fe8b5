"""Campaigns in a kazoo Election on argv[2] at server argv[1] as identifier argv[3].

Prints CANDIDATE, then LEADER once elected, and RESIGNED after "resign" on stdin.
The session timeout is short (1 s) so that a killed process loses leadership fast.
"""
import sys

from kazoo.client import KazooClient

zk = KazooClient(hosts=sys.argv[1], timeout=1.0)
zk.start(timeout=10)
election = zk.Election(sys.argv[2], sys.argv[3])


def lead():
    print("LEADER", flush=True)
    for line in sys.stdin:
        if line.strip() == "resign":
            return


print("CANDIDATE", flush=True)
print("CONTENDERS " + ",".join(election.contenders()), flush=True)
election.run(lead)
print("RESIGNED", flush=True)
zk.stop()
zk.close()
