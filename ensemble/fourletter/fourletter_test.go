package fourletter

import (
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

const refVersion = "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC"

// refServer is the state of the reference ZooKeeper 3.8.0 when its srvr/stat
// output below was captured (two go-zookeeper sessions, one 4lw connection).
var refServer = Server{
	Version: refVersion, Mode: "standalone", MinLatency: 0, AvgLatency: 40.0 / 13, MaxLatency: 13,
	Received: 14, Sent: 14, Connections: 3, Outstanding: 0, Zxid: 6, NodeCount: 9,
}

var refConns = []Conn{
	{Remote: netip.MustParseAddrPort("127.0.0.1:39888"), InterestOps: 1, Received: 6, Sent: 6,
		SessionID: 0x10000033dee0000, LastOp: "PING", Established: time.UnixMilli(1795746582338), Timeout: 6000,
		LastCxid: 3, LastZxid: 6, LastResponse: time.UnixMilli(237837), LastLatency: 1, AvgLatency: 2, MaxLatency: 7},
	{Remote: netip.MustParseAddrPort("127.0.0.1:39924"), InterestOps: 0, Received: 1},
	{Remote: netip.MustParseAddrPort("127.0.0.1:39894"), InterestOps: 1, Received: 7, Sent: 7,
		SessionID: 0x10000033dee0001, LastOp: "PING", Established: time.UnixMilli(1795746582338), Timeout: 10000,
		LastCxid: 5, LastZxid: 6, LastResponse: time.UnixMilli(237168), LastLatency: 0, AvgLatency: 3, MaxLatency: 13},
}

func TestGolden(t *testing.T) {
	utc := time.UTC
	at := func(s int) time.Time { return time.Date(2026, 11, 27, 2, 29, s, 0, utc) }
	tests := []struct {
		name string
		got  []byte
		want string // captured from Debian's zookeeper 3.8.0 unless noted
	}{
		{"ruok", Ruok(), "imok"},
		{"isro", Isro(false), "rw"},
		{"isro ro", Isro(true), "ro"},
		{"dirs", Dirs(457, 457), "datadir_size: 457\nlogdir_size: 457\n"},
		{"not whitelisted", NotWhitelisted("stat"), "stat is not executed because it is not in the whitelist.\n"},
		{"srvr", Srvr(refServer), "Zookeeper version: " + refVersion + "\nLatency min/avg/max: 0/3.0769/13\nReceived: 14\nSent: 14\nConnections: 3\nOutstanding: 0\nZxid: 0x6\nMode: standalone\nNode count: 9\n"},
		{"srvr fresh", Srvr(Server{Version: refVersion, Mode: "standalone", Received: 1, Connections: 1, NodeCount: 5}),
			"Zookeeper version: " + refVersion + "\nLatency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\nOutstanding: 0\nZxid: 0x0\nMode: standalone\nNode count: 5\n"},
		{"stat", Stat(refServer, refConns), "Zookeeper version: " + refVersion + "\nClients:\n /127.0.0.1:39888[1](queued=0,recved=6,sent=6)\n /127.0.0.1:39924[0](queued=0,recved=1,sent=0)\n /127.0.0.1:39894[1](queued=0,recved=7,sent=7)\n\nLatency min/avg/max: 0/3.0769/13\nReceived: 14\nSent: 14\nConnections: 3\nOutstanding: 0\nZxid: 0x6\nMode: standalone\nNode count: 9\n"},
		{"cons", Cons(refConns), " /127.0.0.1:39888[1](queued=0,recved=6,sent=6,sid=0x10000033dee0000,lop=PING,est=1795746582338,to=6000,lcxid=0x3,lzxid=0x6,lresp=237837,llat=1,minlat=0,avglat=2,maxlat=7)\n /127.0.0.1:39924[0](queued=0,recved=1,sent=0)\n /127.0.0.1:39894[1](queued=0,recved=7,sent=7,sid=0x10000033dee0001,lop=PING,est=1795746582338,to=10000,lcxid=0x5,lzxid=0x6,lresp=237168,llat=0,minlat=0,avglat=3,maxlat=13)\n\n"},
		{"cons empty", Cons(nil), "\n"},
		{"wchs", Wchs([]Watch{{0x10000033dee0000, "/a"}, {0x10000033dee0001, "/a"}, {0x10000033dee0001, "/nope"}}), "2 connections watching 2 paths\nTotal watches:3\n"},
		{"wchs empty", Wchs(nil), "0 connections watching 0 paths\nTotal watches:0\n"},
		{"wchc", Wchc([]Watch{{0x10000033dee0001, "/nope"}, {0x10000033dee0000, "/a"}, {0x10000033dee0001, "/a"}}), "0x10000033dee0000\n\t/a\n0x10000033dee0001\n\t/a\n\t/nope\n\n"},
		{"wchc empty", Wchc(nil), "\n"},
		// reference: "/a\n\t0x10000033dee0001\n\t0x10000033dee0000\n..." (hash order); we sort.
		{"wchp", Wchp([]Watch{{0x10000033dee0001, "/a"}, {0x10000033dee0000, "/a"}, {0x10000033dee0001, "/nope"}}), "/a\n\t0x10000033dee0000\n\t0x10000033dee0001\n/nope\n\t0x10000033dee0001\n\n"},
		{"dump", DumpReply(Dump{
			SessionBuckets: []Bucket{{Expire: at(48)}, {Expire: at(50)}, {Expire: at(52), Sessions: []int64{0x10000033dee0000}}, {Expire: at(54)}, {Expire: at(56), Sessions: []int64{0x10000033dee0001}}},
			Ephemerals:     []SessionEphemerals{{0x10000033dee0001, []string{"/e1", "/e2"}}, {0x10000033dee0000, []string{"/e3"}}},
			ConnBuckets: []ConnBucket{{Expire: at(48)}, {Expire: at(58), Conns: []ConnSession{
				{"/127.0.0.1:39888", 0x10000033dee0000}, {"/127.0.0.1:39970", 0}, {"/127.0.0.1:39894", 0x10000033dee0001}}}},
		}), "SessionTracker dump:\nSession Sets (5)/(2):\n0 expire at Fri Nov 27 02:29:48 UTC 2026:\n0 expire at Fri Nov 27 02:29:50 UTC 2026:\n1 expire at Fri Nov 27 02:29:52 UTC 2026:\n\t0x10000033dee0000\n0 expire at Fri Nov 27 02:29:54 UTC 2026:\n1 expire at Fri Nov 27 02:29:56 UTC 2026:\n\t0x10000033dee0001\nephemeral nodes dump:\nSessions with Ephemerals (2):\n0x10000033dee0001:\n\t/e1\n\t/e2\n0x10000033dee0000:\n\t/e3\nConnections dump:\nConnections Sets (2)/(3):\n0 expire at Fri Nov 27 02:29:48 UTC 2026:\n3 expire at Fri Nov 27 02:29:58 UTC 2026:\n\tip: /127.0.0.1:39888 sessionId: 0x10000033dee0000\n\tip: /127.0.0.1:39970 sessionId: 0x0\n\tip: /127.0.0.1:39894 sessionId: 0x10000033dee0001\n"},
		// follower form, from LearnerSessionTracker.dumpSessions (source, not captured)
		{"dump follower", DumpReply(Dump{Follower: true, Sessions: []SessionTimeout{{0x2, 30000}, {0x1, 4000}}}),
			"SessionTracker dump:\nGlobal Sessions(2):\n0x1\t4000ms\n0x2\t30000ms\nephemeral nodes dump:\nSessions with Ephemerals (0):\nConnections dump:\nConnections Sets (0)/(0):\n"},
		{"conf", ConfReply(Conf{ClientPort: 21897, SecureClientPort: -1, DataDir: "/tmp/zkref/data/version-2", DataDirSize: 457, DataLogDir: "/tmp/zkref/data/version-2", DataLogSize: 457,
			TickTime: 2000, MaxClientCnxns: 60, MinSessionTimeout: 4000, MaxSessionTimeout: 40000, ClientPortListenBacklog: -1}),
			"clientPort=21897\nsecureClientPort=-1\ndataDir=/tmp/zkref/data/version-2\ndataDirSize=457\ndataLogDir=/tmp/zkref/data/version-2\ndataLogSize=457\ntickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\nmaxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=0\n"},
		// quorum form, from QuorumZooKeeperServer.dumpConf + QuorumMaj.toString (source)
		{"conf quorum", ConfReply(Conf{ClientPort: 2181, SecureClientPort: -1, DataDir: "/d", DataLogDir: "/d", TickTime: 2000, MaxClientCnxns: 60, MinSessionTimeout: 4000, MaxSessionTimeout: 40000, ClientPortListenBacklog: -1, ServerID: 1,
			Quorum: &QuorumConf{InitLimit: 10, SyncLimit: 5, ElectionPort: 3888, QuorumPort: 2888, Members: map[int64]string{2: "zk2:2888:3888:participant;0.0.0.0:2181", 1: "zk1:2888:3888:participant;0.0.0.0:2181"}, Version: 0x100000000}}),
			"clientPort=2181\nsecureClientPort=-1\ndataDir=/d\ndataDirSize=0\ndataLogDir=/d\ndataLogSize=0\ntickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\nmaxSessionTimeout=40000\nclientPortListenBacklog=-1\nserverId=1\ninitLimit=10\nsyncLimit=5\nelectionAlg=3\nelectionPort=3888\nquorumPort=2888\npeerType=0\nmembership: \nserver.1=zk1:2888:3888:participant;0.0.0.0:2181\nserver.2=zk2:2888:3888:participant;0.0.0.0:2181\nversion=100000000"},
		{"envi", Envi(Env{Version: refVersion, HostName: "localhost", GoVersion: "go1.26.8", OSName: "Linux", OSArch: "amd64", OSVersion: "6.18.44-fc-v669", UserName: "root", UserHome: "/root", UserDir: "/tmp/zkref", MemFree: 368 << 20, MemMax: 6028 << 20, MemTotal: 388<<20 + 5}),
			"Environment:\nzookeeper.version=" + refVersion + "\nhost.name=localhost\ngo.version=go1.26.8\nos.name=Linux\nos.arch=amd64\nos.version=6.18.44-fc-v669\nuser.name=root\nuser.home=/root\nuser.dir=/tmp/zkref\nos.memory.free=368MB\nos.memory.max=6028MB\nos.memory.total=388MB\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if string(tt.got) != tt.want {
				t.Errorf("got\n%q\nwant\n%q", tt.got, tt.want)
			}
		})
	}
}

func TestMntr(t *testing.T) {
	m := Monitor{EphemeralsCount: 3, GlobalSessions: 2, WatchCount: 4, ApproximateDataSize: 56, OpenFileDescriptorCount: 45, MaxFileDescriptorCount: 20000,
		Uptime: 26520 * time.Millisecond, LastClientResponseSize: 16, MinClientResponseSize: 16, MaxClientResponseSize: 124}
	s := refServer
	s.Received, s.Sent = 21, 21
	// The first 27 lines of the reference 3.8.0 mntr for this state.
	want := "zk_version\t" + refVersion + "\nzk_server_state\tstandalone\nzk_ephemerals_count\t3\nzk_num_alive_connections\t3\nzk_avg_latency\t3.0769\nzk_outstanding_requests\t0\nzk_znode_count\t9\nzk_global_sessions\t2\nzk_non_mtls_remote_conn_count\t0\nzk_last_client_response_size\t16\nzk_packets_sent\t21\nzk_packets_received\t21\nzk_max_client_response_size\t124\nzk_connection_drop_probability\t0.0\nzk_watch_count\t4\nzk_auth_failed_count\t0\nzk_min_latency\t0\nzk_max_file_descriptor_count\t20000\nzk_approximate_data_size\t56\nzk_open_file_descriptor_count\t45\nzk_local_sessions\t0\nzk_uptime\t26520\nzk_max_latency\t13\nzk_outstanding_tls_handshake\t0\nzk_min_client_response_size\t16\nzk_non_mtls_local_conn_count\t0\n"
	if got := string(Mntr(s, m)); got != want {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}

	s.Mode = "leader"
	s.ProposalSizes = &[3]int64{10, 5, 20}
	m.PeerState, m.QuorumSize, m.Learners, m.SyncedFollowers, m.PendingSyncs = "leading - broadcast", 3, 2, 2, 0
	m.Extra = []Field{{"commit_count", int64(7)}}
	got := string(Mntr(s, m))
	for _, line := range []string{"zk_server_state\tleader\nzk_peer_state\tleading - broadcast\n", "zk_quorum_size\t3\n", "zk_learners\t2\n", "zk_synced_followers\t2\n", "zk_pending_syncs\t0\n",
		"zk_last_proposal_size\t10\nzk_max_proposal_size\t20\nzk_min_proposal_size\t5\n", "zk_commit_count\t7\n"} {
		if !strings.Contains(got, line) {
			t.Errorf("leader mntr lacks %q:\n%s", line, got)
		}
	}
	for line := range strings.SplitSeq(strings.TrimSuffix(got, "\n"), "\n") {
		if k, _, ok := strings.Cut(line, "\t"); !ok || !strings.HasPrefix(k, "zk_") {
			t.Errorf("bad mntr line %q", line)
		}
	}
	if !strings.HasSuffix(string(Srvr(s)), "Mode: leader\nNode count: 9\nProposal sizes last/min/max: 10/5/20\n") {
		t.Errorf("leader srvr: %q", Srvr(s))
	}
}

func TestFormatting(t *testing.T) {
	for _, tt := range []struct {
		f    float64
		want string
	}{{0, "0.0"}, {1, "1.0"}, {40.0 / 13, "3.0769"}, {0.5, "0.5"}, {1234567, "1234567.0"}, {1e7, "1.0E7"}, {0.0001, "1.0E-4"}} {
		if got := javaDouble(round4(tt.f)); got != tt.want {
			t.Errorf("javaDouble(%v) = %q, want %q", tt.f, got, tt.want)
		}
	}
	for _, tt := range []struct{ in, want string }{
		{"127.0.0.1:1", "/127.0.0.1:1"},
		{"[::1]:2181", "/[0:0:0:0:0:0:0:1]:2181"},
		{"[::ffff:10.0.0.1]:5", "/10.0.0.1:5"},
		{"[fe80::1%eth0]:7", "/[fe80:0:0:0:0:0:0:1%eth0]:7"},
	} {
		if got := JavaAddr(netip.MustParseAddrPort(tt.in)); got != tt.want {
			t.Errorf("JavaAddr(%s) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if got := hex(-1); got != "ffffffffffffffff" {
		t.Errorf("hex(-1) = %s", got)
	}
	if OpName(11) != "PING" || OpName(4) != "GETD" || OpName(-10) != "SESS" || OpName(999) != "NA" {
		t.Error("OpName")
	}
	c := refConns[0]
	c.LastCxid, c.LastZxid = -1, -1
	if got := string(Cons([]Conn{c})); !strings.Contains(got, "to=6000,lzxid=0xffffffffffffffff,") {
		t.Errorf("negative cxid/zxid: %q", got)
	}
	if got := string(Srvr(Server{Mode: "standalone", ReadOnly: true})); !strings.Contains(got, "\nREAD-ONLY mode; serving only read-only clients\nLatency") {
		t.Errorf("read-only srvr: %q", got)
	}
}

func TestFullVersion(t *testing.T) {
	v := FullVersion()
	if !strings.HasPrefix(v, "3.8.0-zkraft-") || !strings.HasSuffix(v, " GMT") {
		t.Errorf("FullVersion = %q", v)
	}
	// kazoo: ENVI_VERSION = re.compile(r'([\d\.]*).*') on zookeeper.version
	digits := strings.TrimRightFunc(v[:strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })], func(r rune) bool { return r == '.' })
	if digits != "3.8.0" {
		t.Errorf("kazoo would read version %q", digits)
	}
}

// fakeSource serves fixed data.
type fakeSource struct {
	serving bool
	srv     Server
	conns   []Conn
	resets  int
}

func (f *fakeSource) Serving() bool        { return f.serving }
func (f *fakeSource) Server() Server       { return f.srv }
func (f *fakeSource) Connections() []Conn  { return f.conns }
func (f *fakeSource) Monitor() Monitor     { return Monitor{} }
func (f *fakeSource) Conf() Conf           { return Conf{SecureClientPort: -1} }
func (f *fakeSource) Env() Env             { return CurrentEnv() }
func (f *fakeSource) Watches() []Watch     { return nil }
func (f *fakeSource) Dump() Dump           { return Dump{} }
func (f *fakeSource) Dirs() (int64, int64) { return 1, 2 }
func (f *fakeSource) ResetServerStats()    { f.resets++ }
func (f *fakeSource) ResetConnStats()      { f.resets++ }

func TestReply(t *testing.T) {
	src := &fakeSource{serving: true, srv: Server{Mode: "standalone"}, conns: refConns[:1]}
	for _, w := range Words {
		out, ok := Reply(w, src)
		if !ok || (len(out) == 0 && w != "cons") {
			t.Errorf("Reply(%s) = %q, %v", w, out, ok)
		}
	}
	if src.resets != 2 {
		t.Errorf("resets = %d", src.resets)
	}
	if _, ok := Reply("abcd", src); ok {
		t.Error("unknown word answered")
	}
	if out, _ := Reply("srst", src); string(out) != "Server stats reset.\n" {
		t.Errorf("srst: %q", out)
	}
	if out, _ := Reply("crst", src); string(out) != "Connection stats reset.\n" {
		t.Errorf("crst: %q", out)
	}
	env, _ := Reply("envi", src)
	if !strings.HasPrefix(string(env), "Environment:\nzookeeper.version=3.8.0-zkraft-") || !strings.Contains(string(env), "\nos.memory.total=") {
		t.Errorf("envi: %q", env)
	}
	src.serving = false
	for _, w := range []string{"srvr", "stat", "cons", "mntr", "conf", "wchs", "dump", "dirs"} {
		if out, _ := Reply(w, src); string(out) != NotServing {
			t.Errorf("not serving %s: %q", w, out)
		}
	}
	if out, _ := Reply("ruok", src); string(out) != "imok" {
		t.Errorf("ruok not serving: %q", out)
	}
	if out, _ := Reply("isro", src); string(out) != "null" {
		t.Errorf("isro not serving: %q", out)
	}
}

// serve answers every connection with reply(word) and closes it, as ZooKeeper does.
func serve(t *testing.T, reply func(word string) []byte) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			word := make([]byte, 4)
			if _, err := io.ReadFull(c, word); err == nil {
				c.Write(reply(string(word)))
			}
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestGoZookeeperParses(t *testing.T) {
	src := &fakeSource{serving: true, conns: []Conn{refConns[0], refConns[2]},
		srv: Server{Mode: "follower", MinLatency: 1, AvgLatency: 2.5, MaxLatency: 9, Received: 100, Sent: 99, Connections: 2, Outstanding: 1, Zxid: 0x500000007, NodeCount: 42}}
	addr := serve(t, func(w string) []byte { out, _ := Reply(w, src); return out })

	stats, ok := zk.FLWSrvr([]string{addr}, 2*time.Second)
	if !ok || len(stats) != 1 || stats[0].Error != nil {
		t.Fatalf("FLWSrvr: ok=%v %+v", ok, stats)
	}
	s := stats[0]
	if s.Mode != zk.ModeFollower || s.Epoch != 5 || s.Counter != 7 || s.NodeCount != 42 || s.AvgLatency != 2.5 || s.MaxLatency != 9 ||
		s.Received != 100 || s.Sent != 99 || s.Connections != 2 || s.Outstanding != 1 || !strings.HasPrefix(s.Version, "3.8.0-zkraft-") ||
		!s.BuildTime.Equal(BuildTime.Truncate(time.Minute)) {
		t.Errorf("FLWSrvr parsed %+v", s)
	}

	if oks := zk.FLWRuok([]string{addr}, 2*time.Second); len(oks) != 1 || !oks[0] {
		t.Errorf("FLWRuok = %v", oks)
	}

	cl, ok := zk.FLWCons([]string{addr}, 2*time.Second)
	if !ok || len(cl) != 1 || cl[0].Error != nil || len(cl[0].Clients) != 2 {
		t.Fatalf("FLWCons: ok=%v %+v", ok, cl)
	}
	c := cl[0].Clients[0]
	if c.Addr != "127.0.0.1:39888" || c.SessionID != 0x10000033dee0000 || c.LastOperation != "PING" || c.Timeout != 6000 ||
		c.Lcxid != 3 || c.Lzxid != 6 || c.AvgLatency != 2 || c.MaxLatency != 7 || c.Received != 6 {
		t.Errorf("FLWCons parsed %+v", c)
	}
}
