package ensembleproc

import (
	"errors"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/integration/testkit"
)

var binary string

func TestMain(m *testing.M) { os.Exit(testkit.RunWithZkraft(m, &binary)) }

// The proxies carry all peer traffic: an isolated leader loses its leadership to the
// others, and after Heal the ensemble is whole again (a write through the old leader
// reaches everyone).
func TestNetworkIsolatesLeader(t *testing.T) {
	e := Start(t, binary, Options{N: 3, Proxied: true})
	old := e.Leader(10 * time.Second)
	c, _ := Connect(t, e.Addrs(), 10*time.Second, false)
	if _, err := c.Create("/before", nil, 0, OpenACL); err != nil {
		t.Fatal(err)
	}
	e.Net.Isolate(old)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if l := e.FindLeader(); l >= 0 && l != old {
			if s, err := Srvr(e.Members[old].ClientAddr); err == nil && s.Mode != "leader" {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the isolated leader %d did not lose its leadership to another member within 20s", old+1)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e.Net.Cuts() == 0 || e.Net.Unidentified() > 0 {
		t.Fatalf("%d connections cut (want some), %d from members the proxies could not tell (want none)", e.Net.Cuts(), e.Net.Unidentified())
	}
	// The client may have been on the isolated member, which drops its clients.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, err := c.Create("/during", nil, 0, OpenACL)
		if err == nil || errors.Is(err, zk.ErrNodeExists) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("write while member %d is isolated: %v", old+1, err)
		}
	}
	e.Net.Heal()
	e.WaitZxidMatch(old, 20*time.Second)
	oc, _ := Connect(t, []string{e.Members[old].ClientAddr}, 10*time.Second, false)
	if ok, _, err := oc.Exists("/during"); err != nil || !ok {
		t.Fatalf("member %d after heal: exists /during = %v, %v", old+1, ok, err)
	}
}
