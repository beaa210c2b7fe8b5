package ensemble

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/storage/raftstore"
	"github.com/zkraft/zkraft/zkproto"
)

// Config is what a server needs to start. NewConfig gives ZooKeeper's defaults for a
// development node; change fields, then call Start.
type Config struct {
	// ClientAddr is the client port's listen address ("127.0.0.1:2181"; port 0 picks one).
	// "" opens no plaintext port: TLS clients only, at SecureClientAddr.
	ClientAddr string
	// TLS holds the secure client port and the peer port's TLS (tls.go).
	TLS TLSConfig
	// DataDir holds the Raft log, stable state and snapshots. Empty keeps everything in
	// memory: nothing survives Close.
	DataDir string
	// DataLogDir, when set, holds the Raft log instead of DataDir (zoo.cfg dataLogDir).
	DataLogDir string
	// ServerID is this node's id (zoo.cfg myid); it is also the top byte of session ids.
	ServerID int64
	// Peers are the ensemble's members (zoo.cfg server.N lines), this node included.
	// Empty or a single entry means a standalone node.
	Peers []Peer

	TickTime          time.Duration
	MinSessionTimeout time.Duration // default 2 × TickTime
	MaxSessionTimeout time.Duration // default 20 × TickTime

	MaxClientCnxns         int // per source address; 0 means unlimited
	MaxCnxns               int // client connections in total (maxCnxns); 0 means unlimited
	MaxBuffer              int // jute.maxbuffer: the largest frame accepted
	GlobalOutstandingLimit int // requests in flight across all connections
	// SessionlessCnxnTimeout closes a connection that has not sent its
	// ConnectRequest (or four-letter word) within it (nio.sessionlessCnxnTimeout).
	SessionlessCnxnTimeout time.Duration
	// MaxWatchesPerSession bounds the watches one session holds on this server
	// (zkraft.maxWatchesPerSession); 0 means unlimited. A request that would set
	// one more gets QUOTAEXCEEDED.
	MaxWatchesPerSession int

	FourLetterWhitelist  []string // "*" allows all; default {"srvr"}
	ExtendedTypesEnabled bool     // TTL nodes
	// ReconfigEnabled allows the reconfig op (zoo.cfg reconfigEnabled), for super
	// users or callers with WRITE on /zookeeper/config.
	ReconfigEnabled bool
	// ReadOnlyModeEnabled lets a member that has lost quorum serve reads to clients
	// that ask for read-only sessions (readonlymode.enabled).
	ReadOnlyModeEnabled bool
	// SuperDigest is "super:<base64 sha1>" as DigestAuthenticationProvider.superDigest.
	SuperDigest string
	// ContainerCheckInterval is how often empty containers and expired TTL nodes are reaped.
	ContainerCheckInterval time.Duration
	// SnapshotThreshold (zoo.cfg snapCount) is how many Raft entries pass between
	// snapshots at the least (snapshotpolicy.go).
	SnapshotThreshold uint64
	// IgnoreUndecodableEntries (zoo.cfg zkraft.ignoreUndecodableEntries) skips Raft
	// log entries this member cannot decode, logging each, instead of stopping the
	// member. Off by default: a member that skips an entry the others apply may hold
	// a different tree from then on. For a member that must serve while an upgrade
	// is under way, when the entries it cannot decode are known to be harmless to it.
	IgnoreUndecodableEntries bool
	// SnapshotFormat (zoo.cfg zkraft.snapshotFormat) is the format of the snapshots
	// this member writes; 0: the newest (datatree.SnapshotFormat).
	SnapshotFormat uint32

	// AllowAnyPeerAddress turns off the peer port's member check (zoo.cfg
	// zkraft.peerAddressCheck=false): by default Raft and forwarded writes are taken
	// only from the address of a member (peergate.go). For members behind a NAT or
	// proxy that hides their addresses; prefer sslQuorum there.
	AllowAnyPeerAddress bool

	// Auth is SASL and the enforcement of authentication (auth.go).
	Auth AuthConfig

	// MetricsAddr, when set, serves Prometheus metrics at http://MetricsAddr/metrics
	// (zoo.cfg metricsProvider.className=...PrometheusMetricsProvider with
	// metricsProvider.httpHost and httpPort): ZooKeeper's metric names, beside
	// zkraft's Raft and storage series (see docs/operations.md).
	MetricsAddr string
	// MetricsRuntime adds the Go runtime and process collectors to the metrics
	// (metricsProvider.exportJvmInfo, default true).
	MetricsRuntime bool
	// Pprof adds Go's profiles (net/http/pprof: CPU, heap, mutex, block, goroutines,
	// the execution trace) under /debug/pprof/ on the metrics address. Off by default:
	// they expose the process's internals to whoever reaches that address.
	Pprof bool
	// AdminAddr, when set, serves the AdminServer (admin.enableServer,
	// admin.serverAddress, admin.serverPort): /commands/<name> as ZooKeeper's JSON,
	// /ready and /health for probes.
	AdminAddr string
	// AdminCommandURL is admin.commandURL, default /commands.
	AdminCommandURL string
	// MetricsListener and AdminListener, when set, are used instead of binding
	// MetricsAddr and AdminAddr (tests open them on port 0). The server closes them.
	MetricsListener, AdminListener net.Listener

	// EnforceQuota refuses writes that would pass a hard quota of /zookeeper/quota
	// with QUOTAEXCEEDED (zoo.cfg enforceQuota, as zookeeper.enforceQuota); without
	// it, passing a quota is only logged.
	EnforceQuota bool

	// ClientListener and PeerListener, when set, are used instead of binding
	// ClientAddr and this member's PeerAddr: a caller that opened them on port 0 (a
	// test harness) has no window in which another process takes the port. The
	// server closes them. The other members still dial this member's PeerAddr, which
	// may be another address than PeerListener's (a proxy or NAT in between).
	ClientListener net.Listener
	PeerListener   net.Listener

	// StorageWriteHook, for fault-injection tests only, runs around every write to
	// the data directory (see raftstore.WriteHook); nil in production.
	StorageWriteHook raftstore.WriteHook
	// StorageSegmentSize, for tests only, is the size of the Raft log's segment files
	// (0: raftstore's default).
	StorageSegmentSize int

	// Logger receives the server's structured logs; nil discards them.
	Logger *slog.Logger

	// failProposal, set by tests only, fails a proposal before it is sent when it
	// returns an error: a failpoint for the paths that must survive one.
	failProposal func(*datatree.Txn) error
}

// NewConfig returns ZooKeeper's defaults for a single in-memory development node on
// 127.0.0.1:2181.
func NewConfig() Config {
	return Config{
		ClientAddr:             "127.0.0.1:2181",
		ServerID:               1,
		TickTime:               2 * time.Second,
		MaxClientCnxns:         60,
		MaxCnxns:               20000,
		MaxBuffer:              zkproto.DefaultMaxBuffer,
		GlobalOutstandingLimit: 1000,
		SessionlessCnxnTimeout: 10 * time.Second,
		MaxWatchesPerSession:   100000,
		FourLetterWhitelist:    []string{"srvr"},
		ContainerCheckInterval: time.Minute,
		SnapshotThreshold:      defaultSnapCount,
		MetricsRuntime:         true,
		AdminCommandURL:        "/commands",
	}
}

// withDefaults fills derived and zero values and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.TickTime <= 0 {
		c.TickTime = 2 * time.Second
	}
	if c.MinSessionTimeout <= 0 {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if c.MaxSessionTimeout <= 0 {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return c, fmt.Errorf("minSessionTimeout %v is larger than maxSessionTimeout %v", c.MinSessionTimeout, c.MaxSessionTimeout)
	}
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = zkproto.DefaultMaxBuffer
	}
	if c.GlobalOutstandingLimit <= 0 {
		c.GlobalOutstandingLimit = 1000
	}
	if c.SessionlessCnxnTimeout <= 0 {
		c.SessionlessCnxnTimeout = 10 * time.Second
	}
	if c.ContainerCheckInterval <= 0 {
		c.ContainerCheckInterval = time.Minute
	}
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = defaultSnapCount
	}
	if f := c.SnapshotFormat; f != 0 && (f < datatree.OldestSnapshotFormat || f > datatree.SnapshotFormat) {
		return c, fmt.Errorf("snapshot format %d: this version writes formats %d to %d", f, datatree.OldestSnapshotFormat, datatree.SnapshotFormat)
	}
	if c.ServerID < 0 || c.ServerID > 254 {
		return c, fmt.Errorf("server id %d out of range: ZooKeeper ids are 1-254 here", c.ServerID)
	}
	if c.ServerID == 0 {
		c.ServerID = 1
	}
	if c.ClientAddr == "" && c.ClientListener == nil && c.TLS.SecureClientAddr == "" && c.TLS.SecureClientListener == nil {
		return c, fmt.Errorf("no client address: set ClientAddr or TLS.SecureClientAddr")
	}
	if c.ClientAddr != "" {
		if _, _, err := net.SplitHostPort(c.ClientAddr); err != nil {
			return c, fmt.Errorf("client address %q: %w", c.ClientAddr, err)
		}
	}
	if err := c.TLS.check(); err != nil {
		return c, err
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if err := c.Auth.check(); err != nil {
		return c, err
	}
	return c, nil
}

// clampTimeout applies ZooKeeper's rule: a requested session timeout is clamped, not
// rejected.
func (c Config) clampTimeout(ms int32) int32 {
	lo, hi := int32(c.MinSessionTimeout.Milliseconds()), int32(c.MaxSessionTimeout.Milliseconds())
	if ms < lo {
		return lo
	}
	if ms > hi {
		return hi
	}
	return ms
}

// Peer is one member of an ensemble.
type Peer struct {
	ID int64
	// PeerAddr carries Raft and the forwarding of writes to the leader (zoo.cfg's
	// quorum port; the election port is not used).
	PeerAddr string
	// ClientAddr is where the member serves clients, for /zookeeper/config and status.
	ClientAddr string
	// ElectionPort is zoo.cfg's election port: kept for /zookeeper/config, not used.
	ElectionPort int
	// Observer members replicate and serve reads but do not vote (Raft non-voters).
	Observer bool
}

func (c Config) peer(id int64) (Peer, bool) {
	for _, p := range c.Peers {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}
