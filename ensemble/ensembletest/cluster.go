package ensembletest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/internal/testlog"
)

// Cluster is an in-process ensemble: every member on its own loopback client and peer
// ports, talking Raft over TCP as separate processes would. Member i's peer port is
// on its own address, 127.0.0.<i>; the client ports are all on 127.0.0.1.
type Cluster struct {
	t       testing.TB
	Members []*Server // index i is server id i+1; nil while stopped
	configs []ensemble.Config
}

// clusterTick is a test ensemble's tickTime: Raft's heartbeat, election timeout and
// leader lease. 100 ms lost leaders every few seconds when -race test packages shared
// two loaded cores, failing clients' writes; 250 ms keeps elections well under a second.
const clusterTick = 250 * time.Millisecond

// RunCluster starts an n-member ensemble (data in per-member temp directories, so a
// member can be stopped and restarted) and waits until every member serves.
func RunCluster(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	// The members' listeners are opened here, on port 0, and handed to the servers:
	// no other test can take a port between choosing and binding it.
	peers := make([]ensemble.Peer, n)
	clientLns := make([]net.Listener, n)
	peerLns := make([]net.Listener, n)
	for i := range peers {
		clientLns[i], peerLns[i] = listen(t), listenOn(t, memberHost(int64(i+1)))
		peers[i] = ensemble.Peer{ID: int64(i + 1), PeerAddr: peerLns[i].Addr().String(), ClientAddr: clientLns[i].Addr().String(), ElectionPort: freePort(t)}
	}
	c := &Cluster{t: t, Members: make([]*Server, n), configs: make([]ensemble.Config, n)}
	log := testlog.New(t)
	for i := range peers {
		cfg := testConfig(log.With("member", peers[i].ID))
		cfg.TickTime = clusterTick
		cfg.ServerID = peers[i].ID
		cfg.Peers = peers
		cfg.ClientAddr = peers[i].ClientAddr
		cfg.DataDir = t.TempDir()
		for _, o := range opts {
			o(&cfg)
		}
		c.configs[i] = cfg
	}
	// Start all at once, as an operator's members come up, before waiting: a member
	// is ready only once a quorum has formed, and a starting member asks the others
	// (which must be answering) whether the ensemble exists yet.
	srvs := make([]*ensemble.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, cfg := range c.configs {
		cfg.ClientListener, cfg.PeerListener = clientLns[i], peerLns[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			srvs[i], errs[i] = ensemble.Start(cfg)
		}()
	}
	wg.Wait()
	for _, s := range srvs {
		if s != nil {
			t.Cleanup(func() { s.Close() })
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start member %d: %v", i+1, err)
		}
	}
	for i, s := range srvs {
		c.Members[i] = waitReady(t, s, c.configs[i])
	}
	return c
}

// Addrs are the members' client addresses, for a client's server list.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.configs))
	for i, cfg := range c.configs {
		out[i] = cfg.ClientAddr
	}
	return out
}

// Leader returns the index of the current leader, waiting up to 10s for one.
func (c *Cluster) Leader() int {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, m := range c.Members {
			if m != nil && m.Mode() == "leader" {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.t.Fatal("no leader within 10s")
	return -1
}

// Stop closes member i (its data stays).
func (c *Cluster) Stop(i int) {
	c.t.Helper()
	if c.Members[i] == nil {
		return
	}
	c.Members[i].Close()
	c.Members[i] = nil
}

// Configure changes the configuration a stopped member i starts with next (Start):
// a rolling change of settings.
func (c *Cluster) Configure(i int, fn func(*ensemble.Config)) { fn(&c.configs[i]) }

// Start restarts a stopped member i on the same addresses and data, and waits until
// it serves.
func (c *Cluster) Start(i int) *Server {
	c.t.Helper()
	s, err := ensemble.Start(c.configs[i])
	if err != nil {
		c.t.Fatalf("restart member %d: %v", i+1, err)
	}
	c.t.Cleanup(func() { s.Close() })
	c.Members[i] = waitReady(c.t, s, c.configs[i])
	return c.Members[i]
}

func waitReady(t testing.TB, s *ensemble.Server, cfg ensemble.Config) *Server {
	t.Helper()
	select {
	case <-s.Ready():
	case <-s.Done():
		t.Fatalf("member %d stopped before it was ready: %v", cfg.ServerID, s.Err())
	case <-time.After(20 * time.Second):
		t.Fatalf("member %d not ready within 20s", cfg.ServerID)
	}
	return &Server{Server: s, Addr: s.Addr().String(), Config: cfg, t: t}
}

// freeAddr picks a free loopback port. The port is released before use, so another
// process could take it in between; on a test machine that is rare enough.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	defer ln.Close()
	return fmt.Sprintf("127.0.0.1:%d", ln.Addr().(*net.TCPAddr).Port)
}

// StartJoiner starts a new member that is not yet in the ensemble: it knows the
// members and itself, finds the ensemble formed and waits to be added. It returns the
// server line to add it with (reconfig -add) and a wait function that blocks until the
// member serves.
func (c *Cluster) StartJoiner(observer bool) (line string, wait func() *Server) {
	c.t.Helper()
	id := int64(len(c.configs) + 1)
	clientLn, peerLn := listen(c.t), listenOn(c.t, memberHost(id))
	p := ensemble.Peer{ID: id, PeerAddr: peerLn.Addr().String(), ClientAddr: clientLn.Addr().String(), ElectionPort: 1, Observer: observer}
	cfg := c.configs[0]
	cfg.ServerID = id
	cfg.Peers = append(append([]ensemble.Peer(nil), cfg.Peers...), p)
	cfg.ClientAddr = p.ClientAddr
	cfg.DataDir = c.t.TempDir()
	started := cfg
	started.ClientListener, started.PeerListener = clientLn, peerLn
	s, err := ensemble.Start(started)
	if err != nil {
		c.t.Fatalf("start joining member %d: %v", id, err)
	}
	c.t.Cleanup(func() { s.Close() })
	c.configs = append(c.configs, cfg)
	c.Members = append(c.Members, nil)
	role := "participant"
	if observer {
		role = "observer"
	}
	line = fmt.Sprintf("server.%d=%s:%d:%s;%s", id, p.PeerAddr, freePort(c.t), role, p.ClientAddr)
	return line, func() *Server {
		c.t.Helper()
		srv := waitReady(c.t, s, cfg)
		c.Members[id-1] = srv
		return srv
	}
}

func freePort(t testing.TB) int {
	_, port, _ := net.SplitHostPort(freeAddr(t))
	var n int
	fmt.Sscan(port, &n)
	return n
}

// Wipe stops member i and deletes its data directory, as a replaced disk would.
func (c *Cluster) Wipe(i int) {
	c.t.Helper()
	c.Stop(i)
	dir := c.configs[i].DataDir
	entries, err := os.ReadDir(dir)
	if err != nil {
		c.t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			c.t.Fatal(err)
		}
	}
}

// TryStart starts stopped member i and returns Start's error instead of failing.
func (c *Cluster) TryStart(i int) error {
	c.t.Helper()
	s, err := ensemble.Start(c.configs[i])
	if err != nil {
		return err
	}
	c.t.Cleanup(func() { s.Close() })
	c.Members[i] = waitReady(c.t, s, c.configs[i])
	return nil
}

// listen opens a loopback listener on a free port.
func listen(t testing.TB) net.Listener { t.Helper(); return listenOn(t, "127.0.0.1") }

func listenOn(t testing.TB, host string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		t.Fatalf("listen on a free loopback port: %v", err)
	}
	return ln
}

// memberHost is member id's own loopback address, 127.0.0.<id> (all of 127.0.0.0/8
// is loopback on Linux): the peer port admits a member by the address it connects
// from, so members on one address would not tell each other apart.
func memberHost(id int64) string { return fmt.Sprintf("127.0.0.%d", id) }
