package ensemble_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/tlsconfig"
	"github.com/zkraft/zkraft/ensemble/tlsconfig/tlstest"
)

// quorumPKI is the members' CA and a Source holding a member certificate for
// 127.0.0.1-127.0.0.5 (test member i's peer port is on 127.0.0.<i>).
type quorumPKI struct {
	ca  *tlstest.CA
	src *tlsconfig.Source
}

var memberHosts = []string{"127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"}

func newQuorumPKI(t *testing.T) quorumPKI {
	dir := t.TempDir()
	ca := tlstest.NewCA(t, "members CA")
	ks, ts := dir+"/member.p12", dir+"/trust.pem"
	ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "member"}, Hosts: memberHosts}).WriteKeyStore(t, ks, "PKCS12", "pw")
	ca.WriteTrustStore(t, ts, "PEM", "")
	src, err := tlsconfig.New(tlsconfig.Settings{Prefix: "ssl.quorum.", KeyStore: tlsconfig.Store{Location: ks, Password: "pw"},
		TrustStore: tlsconfig.Store{Location: ts}, HostnameVerification: true}, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	return quorumPKI{ca: ca, src: src}
}

func (q quorumPKI) sslQuorum(c *ensemble.Config) {
	c.TLS.Quorum = q.src
	c.TLS.SSLQuorum = true
	c.TLS.QuorumHostnameVerification = true
}

// rogueStream is a raft.StreamLayer that reaches a member's peer port the way a
// rogue process would: dial decides how (plaintext, or TLS with some certificate).
type rogueStream struct {
	dial func(addr string, timeout time.Duration) (net.Conn, error)
	done chan struct{}
}

func (r *rogueStream) Dial(a raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return r.dial(string(a), timeout)
}
func (r *rogueStream) Accept() (net.Conn, error) { <-r.done; return nil, net.ErrClosed }
func (r *rogueStream) Close() error {
	select {
	case <-r.done:
	default:
		close(r.done)
	}
	return nil
}
func (r *rogueStream) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }

// plainRaft speaks Raft in plaintext, as a member without sslQuorum does.
func plainRaft(addr string, timeout time.Duration) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err == nil {
		_, err = c.Write([]byte{'R'})
	}
	return c, err
}

// tlsRaft speaks Raft over TLS with cert.
func tlsRaft(ca *tlstest.CA, cert *tlstest.Cert) func(string, time.Duration) (net.Conn, error) {
	return func(addr string, timeout time.Duration) (net.Conn, error) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", addr,
			&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1", Certificates: []tls.Certificate{cert.TLS()}})
		if err != nil {
			return nil, err
		}
		if _, err := c.Write([]byte{'R'}); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	}
}

// rogueRaft sends a RequestVote for a far higher term, and an AppendEntries of a
// leader of that term carrying one entry, to addr as member 99.
func rogueRaft(t *testing.T, dial func(string, time.Duration) (net.Conn, error), addr string, term uint64) (voteErr, appendErr error, vote raft.RequestVoteResponse) {
	t.Helper()
	st := &rogueStream{dial: dial, done: make(chan struct{})}
	tr := raft.NewNetworkTransport(st, 1, 3*time.Second, io.Discard)
	defer tr.Close()
	rogue := raft.ServerAddress("127.0.0.1:1")
	voteErr = tr.RequestVote("1", raft.ServerAddress(addr), &raft.RequestVoteRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("99"), Addr: []byte(rogue)}, Term: term, LastLogIndex: 1 << 40, LastLogTerm: term,
	}, &vote)
	var ae raft.AppendEntriesResponse
	appendErr = tr.AppendEntries("1", raft.ServerAddress(addr), &raft.AppendEntriesRequest{
		RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("99"), Addr: []byte(rogue)}, Term: term, PrevLogEntry: 0, PrevLogTerm: 0,
		Entries:           []*raft.Log{{Index: 1 << 40, Term: term, Type: raft.LogCommand, Data: []byte("rogue")}},
		LeaderCommitIndex: 1 << 40,
	}, &ae)
	return voteErr, appendErr, vote
}

var termRe = regexp.MustCompile(`zk_raft_term\t(\d+)\n`)

func raftTerm(t *testing.T, addr string) string {
	t.Helper()
	m := termRe.FindStringSubmatch(fourLetter(t, addr, "mntr"))
	if m == nil {
		t.Fatalf("no zk_raft_term in mntr of %s", addr)
	}
	return m[1]
}

// With sslQuorum the members replicate and forward writes over mutual TLS; a
// process that is not a member cannot make a member vote for it or append to its
// log, whether it speaks plaintext, TLS with a certificate of another CA, or TLS
// with a certificate of the members' CA that names no member.
func TestQuorumTLSRefusesRogues(t *testing.T) {
	pki := newQuorumPKI(t)
	cl := ensembletest.RunCluster(t, 3, ensembletest.WithConfig(pki.sslQuorum))
	leader := cl.Leader()
	follower := (leader + 1) % 3
	fc := connectTo(t, cl.Members[follower].Addr) // writes are forwarded to the leader
	for i := range 5 {
		if _, err := fc.Create(fmt.Sprintf("/n%d", i), nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("write through a follower over sslQuorum: %v", err)
		}
	}
	target := cl.Members[follower].Config.Peers[follower].PeerAddr
	termBefore := raftTerm(t, cl.Members[leader].Addr)

	// The harness works: a member's own certificate reaches Raft, which answers a
	// vote request of an old term with a refusal and its own term.
	member := pki.ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "member"}, Hosts: []string{"127.0.0.1"}})
	if err, _, vote := rogueRaft(t, tlsRaft(pki.ca, member), target, 0); err != nil || vote.Granted || vote.Term == 0 {
		t.Fatalf("control: a member's certificate: vote %+v, err %v", vote, err)
	}

	otherCA := tlstest.NewCA(t, "rogue CA")
	for name, dial := range map[string]func(string, time.Duration) (net.Conn, error){
		"plaintext":                  plainRaft,
		"certificate of another CA":  tlsRaft(pki.ca, otherCA.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "member"}, Hosts: []string{"127.0.0.1"}})),
		"members' CA, not a member":  tlsRaft(pki.ca, pki.ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "rogue"}, Hosts: []string{"rogue.invalid", "127.0.0.9"}})),
		"members' CA, no host names": tlsRaft(pki.ca, pki.ca.Issue(t, tlstest.Opts{Subject: pkix.Name{CommonName: "127.0.0.1"}})),
	} {
		verr, aerr, vote := rogueRaft(t, dial, target, 1000)
		if verr == nil || aerr == nil {
			t.Errorf("%s: the member answered Raft: vote err %v (%+v), append err %v", name, verr, vote, aerr)
		}
	}
	// Nothing moved: same leader, same term, and the ensemble still writes.
	if got := raftTerm(t, cl.Members[leader].Addr); got != termBefore {
		t.Errorf("raft term moved from %s to %s after the rogue's RPCs", termBefore, got)
	}
	if now := cl.Leader(); now != leader {
		t.Errorf("leader changed from member %d to %d", leader+1, now+1)
	}
	if _, err := fc.Set("/n0", []byte("after"), -1); err != nil {
		t.Fatalf("write after the rogue's attempts: %v", err)
	}
}

// A rolling change from plaintext to sslQuorum, as ZooKeeper documents it: every
// member restarted with portUnification (accepts both, dials plaintext), then with
// sslQuorum (dials TLS, still accepts both), then without portUnification (TLS
// only). The ensemble keeps a quorum and takes writes at every step.
func TestQuorumTLSRollingUpgrade(t *testing.T) {
	pki := newQuorumPKI(t)
	cl := ensembletest.RunCluster(t, 3)
	c := connectTo(t, cl.Addrs()...)
	n := 0
	write := func(step string) {
		t.Helper()
		n++
		var err error
		for range 50 { // a client reconnecting after its member restarted
			if _, err = c.Create(fmt.Sprintf("/w%03d", n), []byte(step), 0, zk.WorldACL(zk.PermAll)); err == nil || errors.Is(err, zk.ErrNodeExists) {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: write failed: %v", step, err)
	}
	steps := []struct {
		name string
		set  func(*ensemble.Config)
	}{
		{"portUnification", func(c *ensemble.Config) { c.TLS.Quorum = pki.src; c.TLS.PortUnification = true }},
		{"sslQuorum+portUnification", func(c *ensemble.Config) { pki.sslQuorum(c); c.TLS.PortUnification = true }},
		{"sslQuorum", func(c *ensemble.Config) { pki.sslQuorum(c); c.TLS.PortUnification = false }},
	}
	for _, st := range steps {
		for i := range cl.Members {
			cl.Stop(i)
			cl.Configure(i, st.set)
			cl.Start(i)
			write(fmt.Sprintf("%s, member %d", st.name, i+1))
		}
	}
	leader := cl.Leader()
	target := cl.Members[leader].Config.Peers[leader].PeerAddr
	if verr, aerr, _ := rogueRaft(t, plainRaft, target, 1000); verr == nil || aerr == nil {
		t.Errorf("after the upgrade a plaintext Raft peer is answered: %v %v", verr, aerr)
	}
}
