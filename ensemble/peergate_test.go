package ensemble_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// rogueHost is a loopback address that no test member uses.
const rogueHost = "127.0.0.9"

// plainRaftFrom speaks Raft in plaintext from host, as a process there would.
func plainRaftFrom(host string) func(string, time.Duration) (net.Conn, error) {
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		return dialFrom(host, addr, 'R', timeout)
	}
}

func dialFrom(host, addr string, proto byte, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(host)}}
	c, err := d.Dial("tcp", addr)
	if err == nil {
		_, err = c.Write([]byte{proto})
	}
	return c, err
}

// closedUnanswered tells whether the member closes c without a byte of answer.
func closedUnanswered(c net.Conn) error {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b [64]byte
	n, err := c.Read(b[:])
	if n > 0 {
		return fmt.Errorf("the member answered %q", b[:n])
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("the connection stayed open: %v", err)
	}
	return nil // EOF, or reset
}

// Without TLS, the peer port takes Raft, forwarded writes and member lists only from
// a member's address. A process elsewhere (127.0.0.9) asking for votes and
// appending an entry of a far higher term gets its connection closed: no vote, no
// entry, no term change, no crash; each refusal is counted in
// zk_ensemble_auth_fail, and the members keep their quorum and serve.
func TestPeerPortRefusesNonMembers(t *testing.T) {
	cl := ensembletest.RunCluster(t, 3)
	leader := cl.Leader()
	follower := (leader + 1) % 3
	fc := connectTo(t, cl.Members[follower].Addr) // writes are forwarded to the leader
	if _, err := fc.Create("/before", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write through a follower: %v", err)
	}
	target := cl.Members[follower].Config.Peers[follower].PeerAddr
	termBefore := raftTerm(t, cl.Members[leader].Addr)
	failedBefore := mntrValue(t, cl.Members[follower].Addr, "ensemble_auth_fail")

	// The harness reaches Raft from a member's address: a vote request of an old
	// term is refused with the member's own term.
	memberAddr := cl.Members[leader].Config.Peers[leader].PeerAddr
	memberHost, _, _ := net.SplitHostPort(memberAddr)
	if err, _, vote := rogueRaft(t, plainRaftFrom(memberHost), target, 0); err != nil || vote.Granted || vote.Term == 0 {
		t.Fatalf("control from the member address %s: vote %+v, err %v", memberHost, vote, err)
	}
	lastBefore := cl.Members[follower].RaftLastIndex()

	verr, aerr, vote := rogueRaft(t, plainRaftFrom(rogueHost), target, 1000)
	if verr == nil || aerr == nil || vote.Granted {
		t.Fatalf("the member answered Raft from %s: vote err %v (%+v), append err %v", rogueHost, verr, vote, aerr)
	}
	for _, proto := range []byte{'F', 'M'} {
		c, err := dialFrom(rogueHost, target, proto, time.Second)
		if err != nil {
			t.Fatalf("dial %c: %v", proto, err)
		}
		c.Write(make([]byte, 32))
		if err := closedUnanswered(c); err != nil {
			t.Errorf("protocol %c from %s: %v", proto, rogueHost, err)
		}
		c.Close()
	}
	if got := mntrValue(t, cl.Members[follower].Addr, "ensemble_auth_fail") - failedBefore; got < 4 {
		t.Errorf("zk_ensemble_auth_fail grew by %d, want at least 4 (vote, append, forward, member list)", got)
	}
	if got := cl.Members[follower].RaftLastIndex(); got > lastBefore+10 {
		t.Errorf("follower's last log index went from %d to %d", lastBefore, got)
	}
	if got := raftTerm(t, cl.Members[leader].Addr); got != termBefore {
		t.Errorf("raft term moved from %s to %s after the rogue's RPCs", termBefore, got)
	}
	if now := cl.Leader(); now != leader {
		t.Errorf("leader changed from member %d to %d", leader+1, now+1)
	}
	for i, m := range cl.Members {
		select {
		case <-m.Done():
			t.Fatalf("member %d stopped: %v", i+1, m.Err())
		default:
		}
	}
	if _, err := fc.Set("/before", []byte("after"), -1); err != nil {
		t.Fatalf("write after the rogue's attempts: %v", err)
	}
}

// An AppendEntries whose entry does not follow its PrevLogEntry left a gap in
// hashicorp/raft's log that its commit path panicked on ("log not found"). Sent from
// a member's own address (which the address check cannot tell from the member), it
// is refused before Raft sees it: the member answers with an error, keeps its term
// and its log, and serves.
func TestPeerPortRefusesMalformedRaft(t *testing.T) {
	cl := ensembletest.RunCluster(t, 3)
	leader := cl.Leader()
	follower := (leader + 1) % 3
	target := cl.Members[follower].Config.Peers[follower].PeerAddr
	memberHost, _, _ := net.SplitHostPort(cl.Members[leader].Config.Peers[leader].PeerAddr)
	termBefore := raftTerm(t, cl.Members[follower].Addr)
	term, _ := strconv.ParseUint(termBefore, 10, 64)
	lastBefore := cl.Members[follower].RaftLastIndex()

	st := &rogueStream{dial: plainRaftFrom(memberHost), done: make(chan struct{})}
	tr := raft.NewNetworkTransport(st, 1, 3*time.Second, io.Discard)
	defer tr.Close()
	hdr := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("99"), Addr: []byte("127.0.0.1:1")}
	for name, req := range map[string]*raft.AppendEntriesRequest{
		"gap after PrevLogEntry": {RPCHeader: hdr, Term: term + 5, PrevLogEntry: 0,
			Entries: []*raft.Log{{Index: 1 << 40, Term: term + 5, Type: raft.LogCommand, Data: []byte("rogue")}}, LeaderCommitIndex: 1 << 40},
		"unknown entry type": {RPCHeader: hdr, Term: term + 5, PrevLogEntry: lastBefore, PrevLogTerm: term,
			Entries: []*raft.Log{{Index: lastBefore + 1, Term: term + 5, Type: raft.LogType(99)}}, LeaderCommitIndex: lastBefore + 1},
		"undecodable configuration": {RPCHeader: hdr, Term: term + 5, PrevLogEntry: lastBefore, PrevLogTerm: term,
			Entries: []*raft.Log{{Index: lastBefore + 1, Term: term + 5, Type: raft.LogConfiguration, Data: []byte{0xc1, 0xff}}}},
	} {
		var resp raft.AppendEntriesResponse
		err := tr.AppendEntries("1", raft.ServerAddress(target), req, &resp)
		if err == nil {
			t.Errorf("%s: answered %+v, want an error", name, resp)
		}
	}
	for i, m := range cl.Members {
		select {
		case <-m.Done():
			t.Fatalf("member %d stopped: %v", i+1, m.Err())
		default:
		}
	}
	if got := raftTerm(t, cl.Members[follower].Addr); got != termBefore {
		t.Errorf("the follower's term moved from %s to %s", termBefore, got)
	}
	if got := cl.Members[follower].RaftLastIndex(); got >= 1<<40 {
		t.Errorf("the follower's log reaches index %d", got)
	}
	c := connectTo(t, cl.Members[follower].Addr)
	if _, err := c.Create("/after", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after the malformed RPCs: %v", err)
	}
}

// A member that was down while another joined and took the lead holds no
// configuration naming the new leader: it learns the leader's address from the
// members it knows, admits it, and catches up. (Five members: with one down, a
// sixth can join with a quorum of the others in touch.)
func TestPeerGateLearnsMemberAddedWhileAway(t *testing.T) {
	cl := ensembletest.RunCluster(t, 5, ensembletest.WithConfig(func(c *ensemble.Config) {
		c.ReconfigEnabled = true
		c.SuperDigest = "super:" + base64SHA1("super:secret")
	}))
	const away = 4 // member 5
	if l := cl.Leader(); l == away {
		if err := cl.Members[l].TransferLeadership(1); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(10 * time.Second); cl.Leader() == away; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("member %d still leads 10s after handing over", away+1)
		}
	}
	cl.Stop(away)
	admin := connectTo(t, cl.Members[0].Addr)
	if err := admin.AddAuth("digest", []byte("super:secret")); err != nil {
		t.Fatal(err)
	}
	line, wait := cl.StartJoiner(false)
	if _, err := admin.IncrementalReconfig([]string{line}, nil, -1); err != nil {
		t.Fatalf("reconfig add %s: %v", line, err)
	}
	m6 := wait()
	// A transfer times out when member 6 does not catch up within a tick (a loaded
	// machine): again.
	for deadline := time.Now().Add(20 * time.Second); m6.Mode() != "leader"; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("member 6 did not become leader")
		}
		if l := cl.Leader(); l != 5 {
			if err := cl.Members[l].TransferLeadership(6); err != nil {
				t.Logf("hand leadership to member 6: %v; again", err)
			}
		}
	}
	c6 := connectTo(t, m6.Addr)
	if _, err := c6.Create("/while-away", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	m5 := cl.Start(away) // ready only once it has caught up with the leader, member 6
	c5 := connectTo(t, m5.Addr)
	if ok, _, err := c5.Exists("/while-away"); err != nil || !ok {
		t.Fatalf("member 5 after its restart: /while-away exists %v, %v", ok, err)
	}
}

// zkraft.peerAddressCheck=false (AllowAnyPeerAddress), for members behind a NAT or
// proxy: the peer port answers Raft from any address again.
func TestPeerAddressCheckOff(t *testing.T) {
	cl := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(func(c *ensemble.Config) { c.AllowAnyPeerAddress = true }))
	leader := cl.Leader()
	follower := (leader + 1) % 3
	target := cl.Members[follower].Config.Peers[follower].PeerAddr
	if err, _, vote := rogueRaft(t, plainRaftFrom(rogueHost), target, 0); err != nil || vote.Granted || vote.Term == 0 {
		t.Fatalf("with the check off, a vote request from %s: vote %+v, err %v", rogueHost, vote, err)
	}
	if n := mntrValue(t, cl.Members[follower].Addr, "ensemble_auth_fail"); n != 0 {
		t.Errorf("zk_ensemble_auth_fail = %d with the check off", n)
	}
}
