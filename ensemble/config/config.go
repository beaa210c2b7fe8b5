package config

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ZooKeeper 3.8 defaults.
const (
	DefaultTickTime               = 3000 * time.Millisecond // ZooKeeperServer.DEFAULT_TICK_TIME; zoo_sample.cfg sets 2000
	DefaultClientPort             = 2181                    // ZooKeeper has none; zkraft listens here when clientPort is absent
	DefaultMaxClientCnxns         = 60
	DefaultJuteMaxBuffer          = 0xfffff
	DefaultGlobalOutstandingLimit = 1000
	// DefaultMaxCnxns is zkraft's limit on client connections in total (maxCnxns);
	// ZooKeeper's default is 0, no limit.
	DefaultMaxCnxns = 20000
	// DefaultSessionlessCnxnTimeout bounds the wait for a new connection's
	// ConnectRequest (zookeeper.nio.sessionlessCnxnTimeout, NIOServerCnxnFactory).
	DefaultSessionlessCnxnTimeout = 10 * time.Second
	// DefaultMaxWatchesPerSession is zkraft's limit on one session's watches
	// (zkraft.maxWatchesPerSession); ZooKeeper has none.
	DefaultMaxWatchesPerSession    = 100000
	DefaultContainerCheckInterval  = time.Minute
	DefaultAutopurgeSnapRetain     = 3
	DefaultAdminServerPort         = 8080
	DefaultClientPortListenBacklog = -1
	DefaultMetricsProviderClass    = "org.apache.zookeeper.metrics.impl.DefaultMetricsProvider"
	// PrometheusMetricsProviderClass is the metricsProvider.className that turns on
	// the Prometheus endpoint.
	PrometheusMetricsProviderClass = "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"
	DefaultMetricsHTTPPort         = 7000
)

// UnsetServerID is MyID before a myid file has been read.
const UnsetServerID int64 = -1

// Config is a parsed zoo.cfg. Durations are exact; ZooKeeper's millisecond
// integers convert with Milliseconds().
type Config struct {
	TickTime   time.Duration // tickTime
	InitLimit  int           // initLimit, in ticks; required when distributed
	SyncLimit  int           // syncLimit, in ticks; required when distributed
	DataDir    string        // dataDir; required by Load
	DataLogDir string        // dataLogDir; defaults to DataDir

	ClientPort              int    // clientPort (0 = pick a free port)
	ClientPortAddress       string // clientPortAddress; "" = all interfaces
	SecureClientPort        int    // secureClientPort; 0 = unset (no TLS client port)
	SecureClientPortAddress string // secureClientPortAddress; "" = all interfaces
	ClientPortListenBacklog int    // clientPortListenBacklog; -1 = OS default

	MaxClientCnxns int // maxClientCnxns per source IP; 0 = unlimited
	MaxCnxns       int // maxCnxns, client connections in total; 0 = unlimited
	// SessionlessCnxnTimeout is nio.sessionlessCnxnTimeout (the system property
	// zookeeper.nio.sessionlessCnxnTimeout): how long a new connection may take to
	// send its ConnectRequest.
	SessionlessCnxnTimeout time.Duration
	// MaxWatchesPerSession is zkraft.maxWatchesPerSession, zkraft's own key: the
	// watches one session may hold on a server; 0 = unlimited.
	MaxWatchesPerSession int
	// PeerAddressCheck is zkraft.peerAddressCheck, zkraft's own key (default true):
	// the peer port takes Raft and forwarded writes only from members' addresses.
	PeerAddressCheck  bool
	MinSessionTimeout time.Duration // minSessionTimeout; default 2×TickTime
	MaxSessionTimeout time.Duration // maxSessionTimeout; default 20×TickTime

	// FourLetterWhitelist is 4lw.commands.whitelist as written: the listed
	// words, or "*" for all. Use FourLetterAllowed to ask about a word.
	FourLetterWhitelist map[string]bool

	ExtendedTypesEnabled   bool          // extendedTypesEnabled (TTL nodes)
	SuperDigest            string        // DigestAuthenticationProvider.superDigest, "super:base64(sha1)"
	JuteMaxBuffer          int           // jute.maxbuffer, bytes
	GlobalOutstandingLimit int           // globalOutstandingLimit
	ReconfigEnabled        bool          // reconfigEnabled
	StandaloneEnabled      bool          // standaloneEnabled
	ReadOnlyModeEnabled    bool          // readonlymode.enabled
	ContainerCheckInterval time.Duration // znode.container.checkIntervalMs
	// SnapCount is snapCount (zookeeper.snapCount): transactions between snapshots.
	// 0 = unset (zkraft's default); ZooKeeper raises values below 2 to 2.
	SnapCount int
	// IgnoreUndecodableEntries is zkraft.ignoreUndecodableEntries, zkraft's own key:
	// skip Raft log entries this member cannot decode instead of stopping it.
	IgnoreUndecodableEntries bool
	// SnapshotFormat is zkraft.snapshotFormat, zkraft's own key: the format of the
	// snapshots this member writes (2 or 3; 0 = unset, the newest), so that members
	// not yet upgraded can read the snapshots of upgraded ones during a rolling upgrade.
	SnapshotFormat int

	AutopurgeSnapRetainCount int           // autopurge.snapRetainCount (min 3)
	AutopurgePurgeInterval   time.Duration // autopurge.purgeInterval; 0 = off

	// AdminServerEnabled is admin.enableServer. ZooKeeper defaults to true;
	// zkraft keeps the HTTP admin server off unless the file asks for it.
	AdminServerEnabled bool
	AdminServerAddress string // admin.serverAddress, default 0.0.0.0
	AdminServerPort    int    // admin.serverPort

	AdminCommandURL string // admin.commandURL, default /commands

	// EnforceQuota is enforceQuota (zookeeper.enforceQuota): refuse writes past a
	// hard quota with QUOTAEXCEEDED instead of only logging them.
	EnforceQuota bool

	MetricsProviderClassName string            // metricsProvider.className
	MetricsProvider          map[string]string // every metricsProvider.* key but className, prefix removed (httpPort, ...)
	// PrometheusMetricsProvider's settings: metricsProvider.httpHost (default
	// 0.0.0.0), httpPort (default 7000), exportJvmInfo (default true).
	MetricsHTTPHost      string
	MetricsHTTPPort      int
	MetricsExportRuntime bool

	SASL SASL // client authentication by SASL and its enforcement (sasl.go)
	TLS  TLS  // ssl.*, ssl.quorum.*, sslQuorum, portUnification (ssl.go)

	Servers []Server // server.N lines, sorted by ID
	MyID    int64    // from dataDir/myid (ReadMyID); UnsetServerID until read

	clientPortSet bool
}

// Server is one server.N line: host:peerPort:electionPort[:participant|:observer][;[clientAddr:]clientPort].
type Server struct {
	ID           int64
	Host         string // without IPv6 brackets
	PeerPort     int    // quorum port: Raft and forwarding
	ElectionPort int    // ZooKeeper's leader election port
	Observer     bool
	ClientAddr   string // "host:port" after ';', host 0.0.0.0 when only a port is given; "" when absent
	// SecureClientAddr is the third ';' part: where the member serves TLS clients.
	SecureClientAddr string
}

// PeerAddr is host:peerPort.
func (s Server) PeerAddr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.PeerPort)) }

// String renders s the way ZooKeeper writes a server line value (QuorumServer.toString).
func (s Server) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d", bracket(s.Host), s.PeerPort, s.ElectionPort)
	if s.Observer {
		b.WriteString(":observer")
	} else {
		b.WriteString(":participant")
	}
	if s.ClientAddr != "" {
		b.WriteString(";" + s.ClientAddr)
	}
	if s.SecureClientAddr != "" {
		if s.ClientAddr == "" {
			b.WriteString(";")
		}
		b.WriteString(";" + s.SecureClientAddr)
	}
	return b.String()
}

func bracket(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// Warning is a line of zoo.cfg that was accepted but ignored or adjusted.
type Warning struct {
	File string
	Line int // 0 when not tied to a line
	Key  string
	Msg  string
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s: %s", w.File, w.Line, w.Key, w.Msg)
	}
	return fmt.Sprintf("%s: %s: %s", w.File, w.Key, w.Msg)
}

// Error is a configuration error, located at file:line when it comes from one line.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrMissingMyID is returned when a distributed configuration has no dataDir/myid.
var ErrMissingMyID = errors.New("config: myid file is missing")

// Default returns a Config with ZooKeeper's defaults (and zkraft's clientPort 2181).
func Default() *Config {
	c := &Config{
		TickTime:                 DefaultTickTime,
		ClientPort:               DefaultClientPort,
		ClientPortListenBacklog:  DefaultClientPortListenBacklog,
		MaxClientCnxns:           DefaultMaxClientCnxns,
		MaxCnxns:                 DefaultMaxCnxns,
		SessionlessCnxnTimeout:   DefaultSessionlessCnxnTimeout,
		MaxWatchesPerSession:     DefaultMaxWatchesPerSession,
		PeerAddressCheck:         true,
		FourLetterWhitelist:      map[string]bool{"srvr": true},
		JuteMaxBuffer:            DefaultJuteMaxBuffer,
		GlobalOutstandingLimit:   DefaultGlobalOutstandingLimit,
		StandaloneEnabled:        true,
		ContainerCheckInterval:   DefaultContainerCheckInterval,
		AutopurgeSnapRetainCount: DefaultAutopurgeSnapRetain,
		AdminServerAddress:       "0.0.0.0",
		AdminServerPort:          DefaultAdminServerPort,
		MetricsProviderClassName: DefaultMetricsProviderClass,
		MetricsHTTPHost:          "0.0.0.0",
		MetricsHTTPPort:          DefaultMetricsHTTPPort,
		MetricsExportRuntime:     true,
		AdminCommandURL:          "/commands",
		MetricsProvider:          map[string]string{},
		MyID:                     UnsetServerID,
		TLS:                      defaultTLS(),
	}
	return c
}

// FourLetterWords are the words ZooKeeper 3.8 knows ("*" in the whitelist enables them all).
var FourLetterWords = []string{"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk", "srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"}

// FourLetterAllowed reports whether word may run, as FourLetterCommands.isEnabled:
// the whitelist, "*" for every known word, srvr always, isro when read-only mode is on.
func (c *Config) FourLetterAllowed(word string) bool {
	if word == "srvr" || (word == "isro" && c.ReadOnlyModeEnabled) {
		return true
	}
	if c.FourLetterWhitelist["*"] {
		return slices.Contains(FourLetterWords, word)
	}
	return c.FourLetterWhitelist[word]
}

// ClientAddr is the client listen address, ClientPortAddress:ClientPort
// (":port" when no address is set, which net.Listen takes as all interfaces), or ""
// when the file sets secureClientPort and no clientPort: TLS clients only.
func (c *Config) ClientAddr() string {
	if c.SecureClientPort != 0 && !c.clientPortSet {
		return ""
	}
	return net.JoinHostPort(strings.Trim(c.ClientPortAddress, "[]"), strconv.Itoa(c.ClientPort))
}

// SecureClientAddr is secureClientPortAddress:secureClientPort, or "" when no
// secure client port is set.
func (c *Config) SecureClientAddr() string {
	if c.SecureClientPort == 0 {
		return ""
	}
	return net.JoinHostPort(strings.Trim(c.SecureClientPortAddress, "[]"), strconv.Itoa(c.SecureClientPort))
}

// AdminAddr is AdminServerAddress:AdminServerPort.
func (c *Config) AdminAddr() string {
	return net.JoinHostPort(strings.Trim(c.AdminServerAddress, "[]"), strconv.Itoa(c.AdminServerPort))
}

// PrometheusEnabled reports whether metricsProvider.className asks for the
// Prometheus endpoint.
func (c *Config) PrometheusEnabled() bool {
	return c.MetricsProviderClassName == PrometheusMetricsProviderClass
}

// MetricsAddr is MetricsHTTPHost:MetricsHTTPPort.
func (c *Config) MetricsAddr() string {
	return net.JoinHostPort(strings.Trim(c.MetricsHTTPHost, "[]"), strconv.Itoa(c.MetricsHTTPPort))
}

// Distributed reports whether the servers form an ensemble (QuorumPeerConfig.isDistributed):
// more than one participant, or any server line with standaloneEnabled=false.
func (c *Config) Distributed() bool {
	if len(c.Servers) == 0 {
		return false
	}
	if !c.StandaloneEnabled {
		return true
	}
	n := 0
	for _, s := range c.Servers {
		if !s.Observer {
			n++
		}
	}
	return n > 1
}

// Server returns the server line with the given id.
func (c *Config) Server(id int64) (Server, bool) {
	for _, s := range c.Servers {
		if s.ID == id {
			return s, true
		}
	}
	return Server{}, false
}

// Load reads and validates the zoo.cfg at path. dataDir is required. When the
// servers form an ensemble, dataDir/myid is read into MyID (it must exist and name
// a server line); in standalone mode it is read if present.
func Load(path string) (*Config, []Warning, error) { return LoadWithJVMFlags(path, "") }

// load is Load of the file r named name, with JVM system properties sys first.
func load(r io.Reader, name string, sys []property) (*Config, []Warning, error) {
	c, warns, err := parseWith(r, name, sys)
	if err != nil {
		return nil, warns, err
	}
	if c.DataDir == "" {
		return nil, warns, &Error{File: name, Key: "dataDir", Msg: "dataDir is not set"}
	}
	if err := c.ReadMyID(); err != nil && (c.Distributed() || !errors.Is(err, ErrMissingMyID)) {
		return nil, warns, err
	}
	return c, warns, nil
}

// ReadMyID reads dataDir/myid into MyID and checks it against the server lines.
// A missing file is ErrMissingMyID. When clientPort was not set in the file and
// this server's line carries a client address, ClientPortAddress/ClientPort take
// it (QuorumPeerConfig.setupClientPort); a conflicting explicit one is an error.
func (c *Config) ReadMyID() error {
	p := filepath.Join(c.DataDir, "myid")
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%w (%s)", ErrMissingMyID, p)
	}
	if err != nil {
		return fmt.Errorf("config: read myid: %w", err)
	}
	s, _, _ := strings.Cut(string(b), "\n")
	s = strings.TrimSpace(s)
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fmt.Errorf("config: %s: serverid %q is not a number", p, s)
	}
	c.MyID = id
	if len(c.Servers) == 0 {
		return nil
	}
	me, ok := c.Server(id)
	if !ok {
		if c.Distributed() {
			return fmt.Errorf("config: myid %d (from %s) is not in the server list", id, p)
		}
		return nil
	}
	if me.ClientAddr == "" {
		return nil
	}
	host, portStr, _ := net.SplitHostPort(me.ClientAddr)
	port, _ := strconv.Atoi(portStr)
	if c.clientPortSet {
		anyLocal := c.ClientPortAddress == "" || c.ClientPortAddress == "0.0.0.0" || c.ClientPortAddress == "::"
		if port != c.ClientPort || (!anyLocal && host != strings.Trim(c.ClientPortAddress, "[]")) {
			return fmt.Errorf("config: client address for this server (id = %d) in static config file is %s, different from the server line: %s", id, c.ClientAddr(), me.ClientAddr)
		}
	}
	c.ClientPort = port
	if host != "0.0.0.0" {
		c.ClientPortAddress = host
	}
	return nil
}

// Parse reads a zoo.cfg from r; name (the file name) is used in messages. It
// applies defaults and validates everything except the presence of dataDir and
// the myid file (see Load). Unknown and unsupported keys become warnings.
func Parse(r io.Reader, name string) (*Config, []Warning, error) { return parseWith(r, name, nil) }

func parseWith(r io.Reader, name string, sys []property) (*Config, []Warning, error) {
	props, err := readProperties(r, name)
	if err != nil {
		return nil, nil, err
	}
	p := parser{c: Default(), name: name, lines: map[string]int{}}
	if err := p.applyJVMProperties(sys); err != nil {
		return nil, p.warns, err
	}
	// Properties keeps the last value of a repeated key.
	last := map[string]int{}
	for i, pr := range props {
		last[pr.key] = i
	}
	for i, pr := range props {
		if last[pr.key] != i {
			p.warn(pr.line, pr.key, "repeated later in the file; this value is ignored")
			continue
		}
		if err := p.set(pr); err != nil {
			return nil, p.warns, err
		}
	}
	if err := p.finish(); err != nil {
		return nil, p.warns, err
	}
	return p.c, p.warns, nil
}

type parser struct {
	c     *Config
	name  string
	warns []Warning
	lines map[string]int // canonical key → line, for validation messages

	minSet, maxSet bool
	serverKeys     map[int64]string
	quiet          bool // JVM system properties: unknown keys are no news
}

func (p *parser) warn(line int, key, msg string) {
	p.warns = append(p.warns, Warning{File: p.name, Line: line, Key: key, Msg: msg})
}

func (p *parser) errAt(line int, key, format string, args ...any) error {
	return &Error{File: p.name, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// keyAliases maps a system-property spelling to the zoo.cfg key.
var keyAliases = map[string]string{
	"zookeeper.4lw.commands.whitelist":                   "4lw.commands.whitelist",
	"zookeeper.extendedTypesEnabled":                     "extendedTypesEnabled",
	"zookeeper.DigestAuthenticationProvider.superDigest": "DigestAuthenticationProvider.superDigest",
	"zookeeper.globalOutstandingLimit":                   "globalOutstandingLimit",
	"zookeeper.jute.maxbuffer":                           "jute.maxbuffer",
	"zookeeper.nio.sessionlessCnxnTimeout":               "nio.sessionlessCnxnTimeout",
	"zookeeper.readonlymode.enabled":                     "readonlymode.enabled",
	"zookeeper.znode.container.checkIntervalMs":          "znode.container.checkIntervalMs",
	"zookeeper.admin.enableServer":                       "admin.enableServer",
	"zookeeper.admin.serverPort":                         "admin.serverPort",
	"zookeeper.admin.serverAddress":                      "admin.serverAddress",
	"zookeeper.reconfigEnabled":                          "reconfigEnabled",
	"zookeeper.standaloneEnabled":                        "standaloneEnabled",
	"zookeeper.snapCount":                                "snapCount",
	"zookeeper.enforceQuota":                             "enforceQuota",
	"zookeeper.admin.commandURL":                         "admin.commandURL",
}

// ignoredKeys are ZooKeeper settings zkraft reads but does not act on.
var ignoredKeys = map[string]string{
	"electionAlg":                     "leader election is Raft's",
	"quorumListenOnAllIPs":            "not supported",
	"peerType":                        "the server line decides the role",
	"syncEnabled":                     "observers keep no separate log",
	"localSessionsEnabled":            "local sessions are not supported",
	"localSessionsUpgradingEnabled":   "local sessions are not supported",
	"connectToLearnerMasterLimit":     "not used by Raft",
	"observerMasterPort":              "not used by Raft",
	"serverCnxnFactory":               "zkraft has one connection layer",
	"preAllocSize":                    "Raft's log store has its own sizing",
	"forceSync":                       "every write is fsynced",
	"multiAddress.enabled":            "multiple addresses are not supported",
	"quorum.cnxn.threads.size":        "not used",
	"admin.idleTimeout":               "not configurable",
	"quorum.auth.enableSasl":          "SASL between members is not supported",
	"skipACL":                         "ACLs are always enforced",
	"clientCnxnSocket":                "client setting",
	"dynamicConfigFile":               "dynamic config files are not supported; put server lines in zoo.cfg",
	"4lw.commands.whitelist.strict":   "unknown",
	"jvm.pause.monitor":               "no JVM",
	"audit.enable":                    "audit logs are not supported",
	"digest.enabled":                  "not supported",
	"snapshot.compression.method":     "zkraft has its own snapshot format",
	"commitLogCount":                  "not used",
	"fsync.warningthresholdms":        "not used",
	"maxResponseCacheSize":            "not used",
	"maxGetChildrenResponseCacheSize": "not used",
}

func (p *parser) set(pr property) error {
	key, val, line := pr.key, pr.value, pr.line
	if alias, ok := keyAliases[key]; ok {
		key = alias
	} else if strings.HasPrefix(key, "zookeeper.ssl.") || strings.HasPrefix(key, "zookeeper.client.") {
		key = strings.TrimPrefix(key, "zookeeper.") // the system-property spelling
	}
	p.lines[key] = line
	c := p.c
	var err error
	switch {
	case key == "tickTime":
		c.TickTime, err = p.millis(line, key, val, 1)
	case key == "initLimit":
		c.InitLimit, err = p.count(line, key, val)
	case key == "syncLimit":
		c.SyncLimit, err = p.count(line, key, val)
	case key == "dataDir":
		c.DataDir = val
		if val == "" {
			err = p.errAt(line, key, "is empty")
		}
	case key == "dataLogDir":
		c.DataLogDir = val
	case key == "clientPort":
		c.ClientPort, err = p.port(line, key, val, true)
		c.clientPortSet = true
	case key == "clientPortAddress":
		c.ClientPortAddress, err = p.host(line, key, val)
	case key == "secureClientPort":
		c.SecureClientPort, err = p.port(line, key, val, false)
	case key == "secureClientPortAddress":
		c.SecureClientPortAddress, err = p.host(line, key, val)
	case key == "clientPortListenBacklog":
		c.ClientPortListenBacklog, err = p.integer(line, key, val)
	case key == "maxClientCnxns":
		c.MaxClientCnxns, err = p.count(line, key, val)
	case key == "maxCnxns":
		c.MaxCnxns, err = p.count(line, key, val)
	case key == "nio.sessionlessCnxnTimeout":
		c.SessionlessCnxnTimeout, err = p.millis(line, key, val, 1)
	case key == "zkraft.maxWatchesPerSession":
		c.MaxWatchesPerSession, err = p.count(line, key, val)
	case key == "zkraft.peerAddressCheck":
		c.PeerAddressCheck, err = p.boolean(line, key, val)
	case key == "minSessionTimeout":
		c.MinSessionTimeout, err = p.millis(line, key, val, -1)
		p.minSet = c.MinSessionTimeout >= 0
	case key == "maxSessionTimeout":
		c.MaxSessionTimeout, err = p.millis(line, key, val, -1)
		p.maxSet = c.MaxSessionTimeout >= 0
	case key == "4lw.commands.whitelist":
		c.FourLetterWhitelist = map[string]bool{}
		for w := range strings.SplitSeq(val, ",") {
			w = strings.TrimSpace(w)
			if w == "" {
				continue
			}
			if w != "*" && !slices.Contains(FourLetterWords, w) {
				p.warn(line, key, fmt.Sprintf("%q is not a four-letter word ZooKeeper knows", w))
			}
			c.FourLetterWhitelist[w] = true
		}
	case key == "extendedTypesEnabled":
		c.ExtendedTypesEnabled, err = p.boolean(line, key, val)
	case key == "DigestAuthenticationProvider.superDigest":
		c.SuperDigest = val
		if u, d, ok := strings.Cut(val, ":"); !ok || u == "" || d == "" {
			err = p.errAt(line, key, "%q is not of the form user:base64digest", val)
		}
	case key == "jute.maxbuffer":
		c.JuteMaxBuffer, err = p.decode(line, key, val)
		if err == nil && c.JuteMaxBuffer <= 0 {
			err = p.errAt(line, key, "%q must be positive", val)
		}
	case key == "globalOutstandingLimit":
		c.GlobalOutstandingLimit, err = p.count(line, key, val)
	case key == "reconfigEnabled":
		c.ReconfigEnabled, err = p.boolean(line, key, val)
	case key == "standaloneEnabled":
		c.StandaloneEnabled, err = p.boolean(line, key, val)
	case key == "readonlymode.enabled":
		c.ReadOnlyModeEnabled, err = p.boolean(line, key, val)
	case key == "znode.container.checkIntervalMs":
		c.ContainerCheckInterval, err = p.millis(line, key, val, 1)
	case key == "autopurge.snapRetainCount":
		c.AutopurgeSnapRetainCount, err = p.integer(line, key, val)
		if err == nil && c.AutopurgeSnapRetainCount < DefaultAutopurgeSnapRetain {
			p.warn(line, key, fmt.Sprintf("%d is below the minimum; using %d", c.AutopurgeSnapRetainCount, DefaultAutopurgeSnapRetain))
			c.AutopurgeSnapRetainCount = DefaultAutopurgeSnapRetain
		}
	case key == "snapCount":
		c.SnapCount, err = p.integer(line, key, val)
		if err == nil && c.SnapCount < 2 {
			p.warn(line, key, fmt.Sprintf("%d is below the minimum; using 2", c.SnapCount))
			c.SnapCount = 2
		}
	case key == "zkraft.ignoreUndecodableEntries":
		c.IgnoreUndecodableEntries, err = p.boolean(line, key, val)
	case key == "zkraft.snapshotFormat":
		c.SnapshotFormat, err = p.integer(line, key, val)
		if err == nil && (c.SnapshotFormat < 2 || c.SnapshotFormat > 3) {
			err = p.errAt(line, key, "%q is not a snapshot format this version writes: 2 (read by every zkraft version) or 3 (the newest, the default)", val)
		}
	case key == "autopurge.purgeInterval":
		c.AutopurgePurgeInterval, err = p.purgeInterval(line, key, val)
	case key == "admin.enableServer":
		c.AdminServerEnabled, err = p.boolean(line, key, val)
	case key == "admin.serverPort":
		c.AdminServerPort, err = p.port(line, key, val, true)
	case key == "admin.serverAddress":
		c.AdminServerAddress, err = p.host(line, key, val)
	case key == "admin.commandURL":
		if !strings.HasPrefix(val, "/") {
			err = p.errAt(line, key, "%q does not start with /", val)
		}
		c.AdminCommandURL = val
	case key == "enforceQuota":
		c.EnforceQuota, err = p.boolean(line, key, val)
	case key == "metricsProvider.className":
		c.MetricsProviderClassName = val
	case key == "metricsProvider.httpPort":
		c.MetricsHTTPPort, err = p.port(line, key, val, true)
		c.MetricsProvider["httpPort"] = val
	case key == "metricsProvider.httpHost":
		c.MetricsHTTPHost, err = p.host(line, key, val)
		c.MetricsProvider["httpHost"] = val
	case key == "metricsProvider.exportJvmInfo":
		c.MetricsExportRuntime, err = p.boolean(line, key, val)
		c.MetricsProvider["exportJvmInfo"] = val
	case strings.HasPrefix(key, "metricsProvider."):
		c.MetricsProvider[strings.TrimPrefix(key, "metricsProvider.")] = val
	case strings.HasPrefix(key, "server."):
		err = p.server(line, key, val)
	case strings.HasPrefix(key, "group.") || strings.HasPrefix(key, "weight."):
		err = p.errAt(line, key, "hierarchical quorums (group./weight.) are not supported")
	default:
		if ok, err := p.setSASL(key, val, line); ok {
			return err
		}
		if ok, err := p.tlsKey(line, key, val); ok {
			return err
		}
		if p.quiet {
			return nil
		}
		if why, ok := ignoredKeys[key]; ok {
			p.warn(line, key, "ignored: "+why)
		} else {
			p.warn(line, key, "unknown key, ignored")
		}
	}
	return err
}

func (p *parser) integer(line int, key, val string) (int, error) {
	n, err := strconv.ParseInt(val, 10, 32) // Integer.parseInt
	if err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return 0, p.errAt(line, key, "%q is out of range", val)
		}
		return 0, p.errAt(line, key, "%q is not a number", val)
	}
	return int(n), nil
}

// decode parses like Integer.decode (jute.maxbuffer is read with Integer.getInteger): 0x, #, leading 0.
func (p *parser) decode(line int, key, val string) (int, error) {
	s := val
	if strings.HasPrefix(s, "#") {
		s = "0x" + s[1:]
	}
	n, err := strconv.ParseInt(s, 0, 32)
	if err != nil {
		return 0, p.errAt(line, key, "%q is not a number", val)
	}
	return int(n), nil
}

func (p *parser) count(line int, key, val string) (int, error) {
	n, err := p.integer(line, key, val)
	if err == nil && n < 0 {
		return 0, p.errAt(line, key, "%q must not be negative", val)
	}
	return n, err
}

// millis parses a millisecond count into a Duration; values below min are errors,
// except -1 when min is -1 (ZooKeeper's "use the default").
func (p *parser) millis(line int, key, val string, min int) (time.Duration, error) {
	n, err := p.integer(line, key, val)
	if err != nil {
		return 0, err
	}
	if n < min || (min == -1 && n < 0 && n != -1) {
		if min == 1 {
			return 0, p.errAt(line, key, "%q must be positive", val)
		}
		return 0, p.errAt(line, key, "%q must not be negative", val)
	}
	return time.Duration(n) * time.Millisecond, nil
}

func (p *parser) boolean(line int, key, val string) (bool, error) {
	switch strings.ToLower(val) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, p.errAt(line, key, "%q is not a boolean (true or false)", val)
}

func (p *parser) port(line int, key, val string, zeroOK bool) (int, error) {
	n, err := p.integer(line, key, val)
	if err != nil {
		return 0, err
	}
	if n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return 0, p.errAt(line, key, "port %d is out of range", n)
	}
	return n, nil
}

func (p *parser) host(line int, key, val string) (string, error) {
	h := val
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if !validHost(h) {
		return "", p.errAt(line, key, "%q is not a valid host name or IP address", val)
	}
	return h, nil
}

func validHost(h string) bool {
	if h == "" {
		return false
	}
	if net.ParseIP(h) != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// purgeInterval: a bare number is hours (ZooKeeper's historical unit); a number
// with a unit suffix (ms, s, m, h, d) is taken as written.
func (p *parser) purgeInterval(line int, key, val string) (time.Duration, error) {
	if n, err := strconv.Atoi(val); err == nil {
		if n < 0 {
			n = 0 // ZooKeeper treats <= 0 as off
		}
		return time.Duration(n) * time.Hour, nil
	}
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(val, u.suffix); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(num)); err == nil && n >= 0 {
				return time.Duration(n) * u.unit, nil
			}
			break
		}
	}
	return 0, p.errAt(line, key, "%q is not a number of hours or a duration like 30m", val)
}

// server parses server.N=host:peer:election[:type][;[host:]port[;[host:]securePort]].
func (p *parser) server(line int, key, val string) error {
	idStr := strings.TrimPrefix(key, "server.")
	id, err := strconv.ParseInt(idStr, 10, 64)
	if err != nil || id < 0 {
		return p.errAt(line, key, "server id %q is not a non-negative number", idStr)
	}
	if p.serverKeys == nil {
		p.serverKeys = map[int64]string{}
	}
	if other, dup := p.serverKeys[id]; dup {
		return p.errAt(line, key, "server id %d is already defined by %s", id, other)
	}
	p.serverKeys[id] = key
	bad := func(format string, args ...any) error {
		return p.errAt(line, key, "%q: %s (want host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort])", val, fmt.Sprintf(format, args...))
	}
	parts := strings.Split(val, ";")
	if len(parts) > 3 {
		return bad("too many ';' parts")
	}
	if strings.Contains(parts[0], "|") {
		return bad("multiple addresses are not supported")
	}
	fields, err := hostAndPorts(parts[0])
	if err != nil {
		return bad("%v", err)
	}
	if len(fields) < 3 || len(fields) > 4 {
		return bad("expected 3 or 4 ':'-separated fields, got %d", len(fields))
	}
	s := Server{ID: id, Host: fields[0]}
	if !validHost(s.Host) {
		return bad("%q is not a valid host", s.Host)
	}
	if s.PeerPort, err = serverPort(fields[1]); err != nil {
		return bad("peer port: %v", err)
	}
	if s.ElectionPort, err = serverPort(fields[2]); err != nil {
		return bad("election port: %v", err)
	}
	if s.PeerPort == s.ElectionPort {
		return bad("peer and election port must be different")
	}
	if len(fields) == 4 {
		switch strings.ToLower(strings.TrimSpace(fields[3])) {
		case "observer":
			s.Observer = true
		case "participant":
		default:
			return bad("unrecognised peer type %q", fields[3])
		}
	}
	if len(parts) >= 2 && parts[1] != "" {
		if s.ClientAddr, err = clientAddr(parts[1]); err != nil {
			return bad("client address: %v", err)
		}
	}
	if len(parts) == 3 && parts[2] != "" {
		if s.SecureClientAddr, err = clientAddr(parts[2]); err != nil {
			return bad("secure client address: %v", err)
		}
	}
	p.c.Servers = append(p.c.Servers, s)
	return nil
}

// hostAndPorts splits "host:a:b" or "[v6]:a:b" (ConfigUtils.getHostAndPort).
func hostAndPorts(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return nil, fmt.Errorf("missing ']' after IPv6 address")
		}
		host, rest := s[1:end], s[end+1:]
		if net.ParseIP(host) == nil {
			return nil, fmt.Errorf("%q is not an IPv6 address", host)
		}
		if rest == "" {
			return []string{host}, nil
		}
		if rest[0] != ':' {
			return nil, fmt.Errorf("expected ':' after ']'")
		}
		return append([]string{host}, strings.Split(rest[1:], ":")...), nil
	}
	return strings.Split(s, ":"), nil
}

func serverPort(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("%d is out of range", n)
	}
	return n, nil
}

func clientAddr(s string) (string, error) {
	f, err := hostAndPorts(s)
	if err != nil {
		return "", err
	}
	host := "0.0.0.0"
	switch len(f) {
	case 1:
	case 2:
		host = f[0]
		if !validHost(host) {
			return "", fmt.Errorf("%q is not a valid host", host)
		}
	default:
		return "", fmt.Errorf("%q is not [host:]port", s)
	}
	port, err := serverPort(f[len(f)-1])
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, strconv.Itoa(port)), nil
}

// finish applies derived defaults and cross-key validation.
func (p *parser) finish() error {
	c := p.c
	if c.DataLogDir == "" {
		c.DataLogDir = c.DataDir
	}
	if !p.minSet {
		c.MinSessionTimeout = 2 * c.TickTime
	}
	if !p.maxSet {
		c.MaxSessionTimeout = 20 * c.TickTime
	}
	if c.MinSessionTimeout > c.MaxSessionTimeout {
		return p.errAt(p.lines["minSessionTimeout"], "minSessionTimeout", "%d must not be larger than maxSessionTimeout (%d)",
			c.MinSessionTimeout.Milliseconds(), c.MaxSessionTimeout.Milliseconds())
	}
	if c.ClientPortAddress != "" && !c.clientPortSet {
		p.warn(p.lines["clientPortAddress"], "clientPortAddress", fmt.Sprintf("clientPort is not set; using %d", c.ClientPort))
	}
	slices.SortFunc(c.Servers, func(a, b Server) int { return cmp.Compare(a.ID, b.ID) })
	if len(c.Servers) > 0 {
		participants := 0
		for _, s := range c.Servers {
			if !s.Observer {
				participants++
			}
		}
		if participants == 0 {
			return &Error{File: p.name, Key: "server", Msg: "every server is an observer; at least one participant is needed"}
		}
	}
	if c.Distributed() {
		if c.InitLimit == 0 {
			return &Error{File: p.name, Key: "initLimit", Msg: "initLimit is not set"}
		}
		if c.SyncLimit == 0 {
			return &Error{File: p.name, Key: "syncLimit", Msg: "syncLimit is not set"}
		}
	}
	if len(c.MetricsProvider) == 0 {
		c.MetricsProvider = map[string]string{}
	}
	return p.finishSASL()
}

// ParseServerLine parses one "server.N=host:peerPort:electionPort[:role][;client]"
// line, as the reconfig op carries them.
func ParseServerLine(line string) (Server, error) {
	key, val, ok := strings.Cut(strings.TrimSpace(line), "=")
	if !ok || !strings.HasPrefix(key, "server.") {
		return Server{}, fmt.Errorf("%q is not a server.N=... line", line)
	}
	p := &parser{c: Default(), name: "reconfig"}
	if err := p.server(0, strings.TrimSpace(key), strings.TrimSpace(val)); err != nil {
		return Server{}, err
	}
	return p.c.Servers[0], nil
}
