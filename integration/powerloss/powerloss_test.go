package powerloss

import (
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

var (
	cycles = flag.Int("cycles", 20, "power losses to simulate (make powerloss runs 200)")
	seed   = flag.Uint64("seed", 0, "random seed; 0 picks one from the clock (printed)")
)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// writers create unique znodes on the ensemble until stopped, and remember the ones
// acknowledged. They write only while they have budget: the cycles hand it out, so
// that the tree grows with the number of cycles and not with how long restarts take
// (unbounded, it reached 380,000 znodes by cycle 150, and restarting a member that
// snapshots such a tree under -race outlasted the readiness bound).
type writers struct {
	mu     sync.Mutex
	budget int        // creates still allowed; writers wait while it is 0
	funded *sync.Cond // signalled when budget is given or the writers stop
	acked  []string
	tries  int
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

// startWriters opens conns sessions, each with perConn writers in flight at once.
func startWriters(t *testing.T, addrs []string, conns, perConn int) *writers {
	w := &writers{stop: make(chan struct{})}
	w.funded = sync.NewCond(&w.mu)
	for ci := range conns {
		c, _, err := zk.Connect(addrs, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		for j := range perConn {
			w.wg.Add(1)
			go w.write(c, ci*perConn+j)
		}
	}
	return w
}

func (w *writers) write(c *zk.Conn, k int) {
	defer w.wg.Done()
	for i := 0; ; i++ {
		select {
		case <-w.stop:
			return
		default:
		}
		if !w.spend() {
			return
		}
		p := fmt.Sprintf("/w%d-%07d", k, i)
		_, err := c.Create(p, []byte(p), 0, zk.WorldACL(zk.PermAll))
		w.mu.Lock()
		w.tries++
		if err == nil {
			w.acked = append(w.acked, p)
		}
		w.mu.Unlock()
		if err != nil {
			time.Sleep(5 * time.Millisecond) // unknown outcome: not counted, next path
		}
	}
}

// fund allows n more creates.
func (w *writers) fund(n int) {
	w.mu.Lock()
	w.budget += n
	w.mu.Unlock()
	w.funded.Broadcast()
}

// spend takes one create from the budget, waiting for one; false once stopped.
func (w *writers) spend() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for w.budget == 0 {
		select {
		case <-w.stop:
			return false
		default:
		}
		w.funded.Wait()
	}
	w.budget--
	return true
}

func (w *writers) halt() {
	w.once.Do(func() {
		w.mu.Lock() // a writer is either before its stop check or waiting
		close(w.stop)
		w.mu.Unlock()
		w.funded.Broadcast()
	})
	w.wg.Wait()
}

func (w *writers) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.acked)
}

// TestPowerLoss cuts the power of members of a 3-member ensemble (the leader, a
// follower, or all three at once) while clients write, drops what each wrote after
// its last fsync (sectors of the log's segment files; bbolt's pages of wal-meta.db
// torn at a random stage of a commit), restarts them, and requires every member to
// restart and every acknowledged write to be on every member at the end. Snapshots
// are taken every 64 entries and segments hold 64 KiB, so snapshot writes, new
// segments and the deletion of old ones are among the writes the power cuts.
func TestPowerLoss(t *testing.T) {
	// Creates each cycle may make: enough to have writes in flight when the power
	// goes and while the victims restart, few enough that 200 cycles build a tree
	// of at most 80,000 znodes.
	const writesBeforeArming, writesFromArming = 200, 200
	s := *seed
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (rerun with -seed=%d)", s, s)
	rng := rand.New(rand.NewPCG(s, 1))
	const n = 3
	disks := make([]*disk, n)
	cl := ensembletest.RunCluster(t, n, ensembletest.WithConfig(func(c *ensemble.Config) {
		d := newDisk(c.DataDir, s+uint64(c.ServerID))
		disks[c.ServerID-1] = d
		c.StorageWriteHook = d.hook
		c.SnapshotThreshold = 64
		c.StorageSegmentSize = 64 << 10
	}))
	cfgs := make([]ensemble.Config, n)
	srvs := make([]*ensemble.Server, n)
	for i, m := range cl.Members {
		cfgs[i], srvs[i] = m.Config, m.Server
	}
	// The members running at the end are closed then. Not a cleanup per restart: it
	// would keep every stopped server, tree and all, until the test ends (about
	// 100 MB a cycle under -race: 200 cycles filled 24 GiB).
	t.Cleanup(func() {
		for _, s := range srvs {
			s.Close()
		}
	})
	w := startWriters(t, cl.Addrs(), 4, 4)
	defer w.halt()

	start := time.Now()
	modes := map[string]int{}
	restarts := 0
	for cycle := range *cycles {
		w.fund(writesBeforeArming)
		time.Sleep(time.Duration(50+rng.IntN(250)) * time.Millisecond) // writes in flight
		leader := -1
		for i, s := range srvs {
			if s.Mode() == "leader" {
				leader = i
			}
		}
		var victims []int
		switch r := rng.IntN(10); {
		case r < 3 || leader < 0:
			modes["all"]++
			victims = []int{0, 1, 2}
		case r < 7:
			modes["leader"]++
			victims = []int{leader}
		default:
			modes["follower"]++
			victims = []int{(leader + 1 + rng.IntN(2)) % n}
		}
		if testing.Verbose() {
			t.Logf("cycle %d: power loss of member(s) %v (leader %d), %d writes acknowledged so far", cycle, victims, leader, w.count())
		}
		w.fund(writesFromArming) // the crash comes within 20 writes of the disk
		for _, v := range victims {
			disks[v].arm(rng.IntN(20))
		}
		// The power goes during one of the next writes; a member that writes nothing
		// for a while loses it between writes.
		deadline := time.Now().Add(2 * time.Second)
		for _, v := range victims {
			for !disks[v].isCrashed() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			disks[v].crashNow()
		}
		// Writes fail from the crash on; closing only stops the rest, all at once as
		// the power goes (a member waits for its pipelines to peers that are down).
		var wg sync.WaitGroup
		for _, v := range victims {
			wg.Add(1)
			go func() { defer wg.Done(); srvs[v].Close() }()
		}
		closed := make(chan struct{})
		go func() { wg.Wait(); close(closed) }()
		select {
		case <-closed:
		case <-time.After(60 * time.Second):
			t.Fatalf("cycle %d: members %v did not stop within 60s after the power loss", cycle, victims)
		}
		for _, v := range victims {
			if err := disks[v].restore(); err != nil {
				t.Fatal(err)
			}
		}
		for _, v := range victims {
			srv, err := ensemble.Start(cfgs[v])
			if err != nil {
				t.Fatalf("cycle %d: member %d cannot restart after the power loss: %v", cycle, v+1, err)
			}
			srvs[v] = srv
			restarts++
		}
		for _, v := range victims {
			select {
			case <-srvs[v].Ready():
			case <-srvs[v].Done():
				t.Fatalf("cycle %d: member %d stopped after restarting: %v", cycle, v+1, srvs[v].Err())
			case <-time.After(30 * time.Second):
				t.Fatalf("cycle %d: member %d not ready 30s after restarting", cycle, v+1)
			}
		}
	}
	w.halt()
	acked := w.count()

	// Every member has every acknowledged write, and they agree.
	var first []string
	lost := 0
	for i, cfg := range cfgs {
		c, _, err := zk.Connect([]string{cfg.ClientAddr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(nopLogger{}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Sync("/"); err != nil {
			t.Fatalf("sync on member %d: %v", i+1, err)
		}
		kids, _, err := c.Children("/")
		c.Close()
		if err != nil {
			t.Fatalf("children on member %d: %v", i+1, err)
		}
		slices.Sort(kids)
		for _, p := range w.acked {
			if _, ok := slices.BinarySearch(kids, p[1:]); !ok {
				if lost < 10 {
					t.Errorf("member %d lost the acknowledged write %s", i+1, p)
				}
				lost++
			}
		}
		if i == 0 {
			first = kids
		} else if !slices.Equal(first, kids) {
			t.Errorf("member %d's tree differs from member 1's: %d znodes against %d", i+1, len(kids), len(first))
		}
	}
	var stages [numStages]int
	for _, d := range disks {
		for i, k := range d.stages {
			stages[i] += k
		}
	}
	t.Logf("%d power losses (%v) in %v, %d member restarts, 0 that could not restart; "+
		"writes in flight torn at stage nothing/some/most/all: %v; %d writes tried, %d acknowledged, %d lost; "+
		"a tree of %d znodes",
		*cycles, modes, time.Since(start).Round(time.Second), restarts, stages, w.tries, acked, lost, len(first))
	if acked < *cycles*5 {
		t.Fatalf("only %d acknowledged writes over %d cycles: the test did not write much", acked, *cycles)
	}
	if lost > 0 {
		t.Fatal(errors.New("acknowledged writes were lost"))
	}
}
