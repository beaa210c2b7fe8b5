"""A report worker process: waits for the go file, then tries every (report, time) in
a shuffled order with report_once from several threads; each execution appends
"<report> <time> <worker>" to OUT."""

import random
import sys
import threading
import time
import os

from kazoo.client import KazooClient

from zkraft_superset.reportlock import report_once


def main():
    hosts, base, reports, times, out, go, name = sys.argv[1:8]
    threads = int(sys.argv[8]) if len(sys.argv) > 8 else 2
    hold = float(os.environ.get("HOLD", "0.02"))
    c = KazooClient(hosts=hosts, timeout=4.0, connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1},
                    command_retry={"max_tries": 20, "delay": 0.1, "max_delay": 1})
    c.start(timeout=15)
    jobs = [(r, t) for r in range(int(reports)) for t in times.split(",")]
    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(go):
        if time.monotonic() > deadline:
            sys.exit("no go file")
        time.sleep(0.01)
    print("started", flush=True)

    def work(i):
        mine = list(jobs)
        random.shuffle(mine)
        for r, t in mine:
            with report_once(c, r, t, base=base, worker="%s/%d" % (name, i)) as run:
                if run:
                    with open(out, "a") as f:
                        f.write("%s %s %s/%d\n" % (r, t, name, i))
                    time.sleep(hold)

    ts = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print("finished", flush=True)
    if os.environ.get("LINGER"):
        time.sleep(600)
    c.stop()
    c.close()


if __name__ == "__main__":
    main()
