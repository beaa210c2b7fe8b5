package ensembleproc

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// OpenACL is world:anyone with every permission.
var OpenACL = zk.WorldACL(zk.PermAll)

// OrderedHosts is a go-zookeeper HostProvider that tries servers in its own order
// (zk.Connect shuffles the list it is given), so a test can put a client on a chosen
// member first and still let it fail over to the others.
type OrderedHosts struct {
	mu         sync.Mutex
	Servers    []string
	curr, last int
}

func (h *OrderedHosts) Init([]string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr, h.last = -1, -1
	return nil
}

func (h *OrderedHosts) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.Servers)
}

func (h *OrderedHosts) Next() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.curr = (h.curr + 1) % len(h.Servers)
	retryStart := h.curr == h.last
	if h.last == -1 {
		h.last = 0
	}
	return h.Servers[h.curr], retryStart
}

func (h *OrderedHosts) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.last = h.curr
}

// Connect opens a session on addrs (tried in order when ordered) and waits until it
// has one. The connection is closed at cleanup.
func Connect(t testing.TB, addrs []string, timeout time.Duration, ordered bool) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	var hosts zk.HostProvider = &zk.DNSHostProvider{}
	if ordered {
		hosts = &OrderedHosts{Servers: slices.Clone(addrs)}
	}
	c, events, err := zk.Connect(addrs, timeout, zk.WithLogInfo(false), zk.WithLogger(QuietLogger{}), zk.WithHostProvider(hosts))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.State == zk.StateHasSession {
				return c, events
			}
		case <-deadline:
			t.Fatalf("no session on %v within 15s (state %v)", addrs, c.State())
		}
	}
}

// QuietLogger drops go-zookeeper's reconnect chatter, expected when members die.
type QuietLogger struct{}

func (QuietLogger) Printf(string, ...any) {}
