package fourletter

import (
	"bytes"
	"cmp"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Monitor holds the mntr gauges beyond Server. Negative file-descriptor counts
// are left out (ZooKeeper prints them only on Unix).
type Monitor struct {
	PeerState               string // quorum only, e.g. "leading - broadcast"; "" in standalone
	EphemeralsCount         int64
	GlobalSessions          int64
	LocalSessions           int64
	WatchCount              int64
	ApproximateDataSize     int64
	OpenFileDescriptorCount int64
	MaxFileDescriptorCount  int64
	Uptime                  time.Duration
	LastClientResponseSize  int64 // -1 when none
	MinClientResponseSize   int64
	MaxClientResponseSize   int64
	AuthFailedCount         int64
	// NonMTLSRemoteConnCount and NonMTLSLocalConnCount count the plaintext
	// connections accepted (from other hosts, from loopback) by a server that also
	// serves TLS (ZooKeeper counts them on its Netty connection layer, which TLS
	// needs); OutstandingTLSHandshake is the TLS handshakes under way.
	NonMTLSRemoteConnCount  int64
	NonMTLSLocalConnCount   int64
	OutstandingTLSHandshake int64
	QuorumSize              int64 // quorum only
	// Leader only (Mode "leader").
	Learners                 int64
	SyncedFollowers          int64
	SyncedNonVotingFollowers int64
	SyncedObservers          int64
	PendingSyncs             int64
	LeaderUptime             time.Duration
	// Extra fields appended as zk_<key>\t<value>: the counters and summaries the
	// server keeps.
	Extra []Field
}

// KV is one key/value line.
type KV struct{ Key, Value string }

// Field is one mntr key and its value (int64, float64, string or bool), as
// MonitorFields lists them for mntr and the AdminServer's monitor command.
type Field struct {
	Key   string
	Value any
}

// Mntr is the mntr reply: "zk_<key>\t<value>" lines (MonitorFields).
func Mntr(s Server, m Monitor) []byte {
	var b bytes.Buffer
	for _, f := range MonitorFields(s, m) {
		var vs string
		switch v := f.Value.(type) {
		case float64:
			vs = javaDouble(v)
		default:
			vs = fmt.Sprint(v)
		}
		b.WriteString("zk_" + f.Key + "\t" + vs + "\n")
	}
	return b.Bytes()
}

// MonitorFields lists what mntr prints. version, server_state and peer_state come
// first as in 3.8; the gauges follow in the order 3.8.0 printed them on the
// reference server, then the leader's, then Extra (the counters and summaries).
func MonitorFields(s Server, m Monitor) []Field {
	out := make([]Field, 0, 40+len(m.Extra))
	kv := func(k string, v any) { out = append(out, Field{k, v}) }
	kv("version", version(s))
	kv("server_state", s.Mode)
	quorum := s.Mode != "standalone"
	if quorum && m.PeerState != "" {
		kv("peer_state", m.PeerState)
	}
	kv("ephemerals_count", m.EphemeralsCount)
	kv("num_alive_connections", s.Connections)
	kv("avg_latency", round4(s.AvgLatency))
	kv("outstanding_requests", s.Outstanding)
	kv("znode_count", s.NodeCount)
	kv("global_sessions", m.GlobalSessions)
	kv("non_mtls_remote_conn_count", m.NonMTLSRemoteConnCount)
	kv("last_client_response_size", m.LastClientResponseSize)
	kv("packets_sent", s.Sent)
	kv("packets_received", s.Received)
	kv("max_client_response_size", m.MaxClientResponseSize)
	kv("connection_drop_probability", 0.0)
	kv("watch_count", m.WatchCount)
	kv("auth_failed_count", m.AuthFailedCount)
	kv("min_latency", s.MinLatency)
	if m.MaxFileDescriptorCount >= 0 {
		kv("max_file_descriptor_count", m.MaxFileDescriptorCount)
	}
	kv("approximate_data_size", m.ApproximateDataSize)
	if m.OpenFileDescriptorCount >= 0 {
		kv("open_file_descriptor_count", m.OpenFileDescriptorCount)
	}
	kv("local_sessions", m.LocalSessions)
	kv("uptime", m.Uptime.Milliseconds())
	kv("max_latency", s.MaxLatency)
	kv("outstanding_tls_handshake", m.OutstandingTLSHandshake)
	kv("min_client_response_size", m.MinClientResponseSize)
	kv("non_mtls_local_conn_count", m.NonMTLSLocalConnCount)
	if quorum {
		kv("quorum_size", m.QuorumSize)
	}
	if s.Mode == "leader" {
		kv("learners", m.Learners)
		kv("synced_followers", m.SyncedFollowers)
		kv("synced_non_voting_followers", m.SyncedNonVotingFollowers)
		kv("synced_observers", m.SyncedObservers)
		kv("pending_syncs", m.PendingSyncs)
		kv("leader_uptime", m.LeaderUptime.Milliseconds())
		if p := s.ProposalSizes; p != nil {
			kv("last_proposal_size", p[0])
			kv("max_proposal_size", p[2])
			kv("min_proposal_size", p[1])
		}
	}
	return append(out, m.Extra...)
}

// Conf is what conf prints (ZooKeeperServer.dumpConf, and QuorumZooKeeperServer's
// additions when Quorum is set).
type Conf struct {
	ClientPort              int
	SecureClientPort        int // -1 when unset, as ZooKeeper prints it
	DataDir                 string
	DataDirSize             int64
	DataLogDir              string
	DataLogSize             int64
	TickTime                int // ms
	MaxClientCnxns          int
	MinSessionTimeout       int // ms
	MaxSessionTimeout       int // ms
	ClientPortListenBacklog int
	ServerID                int64
	Quorum                  *QuorumConf
}

// QuorumConf is the ensemble part of conf.
type QuorumConf struct {
	InitLimit    int
	SyncLimit    int
	ElectionPort int
	QuorumPort   int
	Observer     bool // peerType 1; participant 0
	// Members are server.N values as ZooKeeper writes them
	// ("host:2888:3888:participant;0.0.0.0:2181"), by id.
	Members map[int64]string
	Version int64 // config version, printed in hex
}

// ConfReply is the conf reply.
func ConfReply(c Conf) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "clientPort=%d\nsecureClientPort=%d\ndataDir=%s\ndataDirSize=%d\ndataLogDir=%s\ndataLogSize=%d\n",
		c.ClientPort, c.SecureClientPort, c.DataDir, c.DataDirSize, c.DataLogDir, c.DataLogSize)
	fmt.Fprintf(&b, "tickTime=%d\nmaxClientCnxns=%d\nminSessionTimeout=%d\nmaxSessionTimeout=%d\nclientPortListenBacklog=%d\nserverId=%d\n",
		c.TickTime, c.MaxClientCnxns, c.MinSessionTimeout, c.MaxSessionTimeout, c.ClientPortListenBacklog, c.ServerID)
	if q := c.Quorum; q != nil {
		peerType := 0
		if q.Observer {
			peerType = 1
		}
		fmt.Fprintf(&b, "initLimit=%d\nsyncLimit=%d\nelectionAlg=3\nelectionPort=%d\nquorumPort=%d\npeerType=%d\nmembership: \n",
			q.InitLimit, q.SyncLimit, q.ElectionPort, q.QuorumPort, peerType)
		ids := make([]int64, 0, len(q.Members))
		for id := range q.Members {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			fmt.Fprintf(&b, "server.%d=%s\n", id, q.Members[id])
		}
		b.WriteString("version=" + hex(q.Version)) // QuorumMaj.toString has no final newline
	}
	return b.Bytes()
}

// Env is what envi prints. Memory sizes are bytes, printed in MB as ZooKeeper does.
type Env struct {
	Version   string // FullVersion() when empty
	HostName  string
	GoVersion string
	OSName    string // Java style: Linux, Mac OS X, Windows
	OSArch    string // Java style: amd64, aarch64
	OSVersion string
	UserName  string
	UserHome  string
	UserDir   string
	MemFree   uint64
	MemMax    uint64
	MemTotal  uint64
}

// Envi is the envi reply.
func Envi(e Env) []byte {
	v := e.Version
	if v == "" {
		v = FullVersion()
	}
	var b bytes.Buffer
	b.WriteString("Environment:\n")
	for _, kv := range []KV{
		{"zookeeper.version", v},
		{"host.name", e.HostName},
		{"go.version", e.GoVersion},
		{"os.name", e.OSName},
		{"os.arch", e.OSArch},
		{"os.version", e.OSVersion},
		{"user.name", e.UserName},
		{"user.home", e.UserHome},
		{"user.dir", e.UserDir},
		{"os.memory.free", strconv.FormatUint(e.MemFree/1024/1024, 10) + "MB"},
		{"os.memory.max", strconv.FormatUint(e.MemMax/1024/1024, 10) + "MB"},
		{"os.memory.total", strconv.FormatUint(e.MemTotal/1024/1024, 10) + "MB"},
	} {
		b.WriteString(kv.Key + "=" + kv.Value + "\n")
	}
	return b.Bytes()
}

// CurrentEnv gathers Env for this process. It reads the host name, the user and
// (on Linux) the kernel release; memory comes from the Go runtime: total is what
// the runtime holds from the OS, free the part of it not in use, max the
// GOMEMLIMIT when set, else total.
func CurrentEnv() Env {
	e := Env{GoVersion: runtime.Version(), OSArch: runtime.GOARCH}
	e.HostName, _ = os.Hostname()
	switch runtime.GOOS {
	case "linux":
		e.OSName = "Linux"
	case "darwin":
		e.OSName = "Mac OS X"
	case "windows":
		e.OSName = "Windows"
	case "freebsd":
		e.OSName = "FreeBSD"
	default:
		e.OSName = runtime.GOOS
	}
	switch runtime.GOARCH {
	case "arm64":
		e.OSArch = "aarch64"
	case "386":
		e.OSArch = "x86"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.OSVersion = strings.TrimSpace(string(b))
	}
	if u, err := user.Current(); err == nil {
		e.UserName, e.UserHome = u.Username, u.HomeDir
	}
	e.UserDir, _ = os.Getwd()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	e.MemTotal = ms.Sys
	e.MemFree = ms.Sys - ms.HeapInuse - ms.StackInuse
	e.MemMax = ms.Sys
	if lim := memLimit(); lim > 0 && lim < 1<<62 {
		e.MemMax = uint64(lim)
	}
	return e
}

// Watch is one data watch: a session watching a path.
type Watch struct {
	SessionID int64
	Path      string
}

// Wchs is "N connections watching M paths\nTotal watches:K\n".
func Wchs(ws []Watch) []byte {
	sessions := map[int64]bool{}
	paths := map[string]bool{}
	pairs := map[Watch]bool{}
	for _, w := range ws {
		sessions[w.SessionID], paths[w.Path], pairs[w] = true, true, true
	}
	return fmt.Appendf(nil, "%d connections watching %d paths\nTotal watches:%d\n", len(sessions), len(paths), len(pairs))
}

// Wchc lists watched paths by session: "0x<sid>\n\t<path>\n"..., then "\n".
func Wchc(ws []Watch) []byte {
	ws = sortedWatches(ws, func(a, b Watch) int {
		return cmp.Or(cmp.Compare(uint64(a.SessionID), uint64(b.SessionID)), strings.Compare(a.Path, b.Path))
	})
	var b bytes.Buffer
	for i, w := range ws {
		if i == 0 || ws[i-1].SessionID != w.SessionID {
			b.WriteString("0x" + hex(w.SessionID) + "\n")
		}
		b.WriteString("\t" + w.Path + "\n")
	}
	b.WriteString("\n")
	return b.Bytes()
}

// Wchp lists watching sessions by path: "<path>\n\t0x<sid>\n"..., then "\n".
func Wchp(ws []Watch) []byte {
	ws = sortedWatches(ws, func(a, b Watch) int {
		return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(uint64(a.SessionID), uint64(b.SessionID)))
	})
	var b bytes.Buffer
	for i, w := range ws {
		if i == 0 || ws[i-1].Path != w.Path {
			b.WriteString(w.Path + "\n")
		}
		b.WriteString("\t0x" + hex(w.SessionID) + "\n")
	}
	b.WriteString("\n")
	return b.Bytes()
}

func sortedWatches(ws []Watch, f func(a, b Watch) int) []Watch {
	ws = slices.Clone(ws)
	slices.SortFunc(ws, f)
	return slices.Compact(ws)
}

// Dump is what dump prints.
type Dump struct {
	// Follower selects the learner form ("Global Sessions(N):" with timeouts)
	// instead of the leader/standalone expiry buckets.
	Follower bool
	// SessionBuckets are the session expiry queue's buckets, by time; an empty
	// bucket prints as "0 expire at ...".
	SessionBuckets []Bucket
	// Sessions are the sessions and their timeouts, for the follower form.
	Sessions   []SessionTimeout
	Ephemerals []SessionEphemerals
	// ConnBuckets are the connection expiry buckets; each entry is "ip: /addr sessionId: 0x...".
	ConnBuckets []ConnBucket
}

// Bucket is a set of sessions expiring at the same tick.
type Bucket struct {
	Expire   time.Time
	Sessions []int64
}

// ConnBucket is a set of connections expiring at the same tick.
type ConnBucket struct {
	Expire time.Time
	Conns  []ConnSession
}

// ConnSession is one connection in the dump.
type ConnSession struct {
	Remote    string // as printed after "ip: ", e.g. "/127.0.0.1:39888"; see JavaAddr
	SessionID int64
}

// SessionTimeout is a session and its timeout in ms.
type SessionTimeout struct {
	SessionID int64
	Timeout   int32
}

// SessionEphemerals are the ephemeral paths a session owns.
type SessionEphemerals struct {
	SessionID int64
	Paths     []string
}

// javaDate is java.util.Date.toString: "Fri Nov 27 02:29:38 UTC 2026".
const javaDate = "Mon Jan 02 15:04:05 MST 2006"

// DumpReply is the dump reply.
func DumpReply(d Dump) []byte {
	var b bytes.Buffer
	b.WriteString("SessionTracker dump:\n")
	if d.Follower {
		ss := slices.Clone(d.Sessions)
		slices.SortFunc(ss, func(a, b SessionTimeout) int { return cmp.Compare(a.SessionID, b.SessionID) })
		fmt.Fprintf(&b, "Global Sessions(%d):\n", len(ss))
		for _, s := range ss {
			fmt.Fprintf(&b, "0x%s\t%dms\n", hex(s.SessionID), s.Timeout)
		}
	} else {
		total := 0
		for _, k := range d.SessionBuckets {
			total += len(k.Sessions)
		}
		fmt.Fprintf(&b, "Session Sets (%d)/(%d):\n", len(d.SessionBuckets), total)
		for _, k := range d.SessionBuckets {
			fmt.Fprintf(&b, "%d expire at %s:\n", len(k.Sessions), k.Expire.Format(javaDate))
			for _, s := range k.Sessions {
				b.WriteString("\t0x" + hex(s) + "\n")
			}
		}
	}
	b.WriteString("ephemeral nodes dump:\n")
	fmt.Fprintf(&b, "Sessions with Ephemerals (%d):\n", len(d.Ephemerals))
	for _, e := range d.Ephemerals {
		b.WriteString("0x" + hex(e.SessionID) + ":\n")
		for _, p := range e.Paths {
			b.WriteString("\t" + p + "\n")
		}
	}
	b.WriteString("Connections dump:\n")
	total := 0
	for _, k := range d.ConnBuckets {
		total += len(k.Conns)
	}
	fmt.Fprintf(&b, "Connections Sets (%d)/(%d):\n", len(d.ConnBuckets), total)
	for _, k := range d.ConnBuckets {
		fmt.Fprintf(&b, "%d expire at %s:\n", len(k.Conns), k.Expire.Format(javaDate))
		for _, c := range k.Conns {
			fmt.Fprintf(&b, "\tip: %s sessionId: 0x%s\n", c.Remote, hex(c.SessionID))
		}
	}
	return b.Bytes()
}
