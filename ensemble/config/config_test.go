package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, src string) (*Config, []Warning) {
	t.Helper()
	c, w, err := Parse(strings.NewReader(src), "zoo.cfg")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c, w
}

func TestDefaults(t *testing.T) {
	c, w := parse(t, "")
	if len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"TickTime", c.TickTime, 3000 * time.Millisecond},
		{"ClientPort", c.ClientPort, 2181},
		{"MaxClientCnxns", c.MaxClientCnxns, 60},
		{"MaxCnxns", c.MaxCnxns, 20000},
		{"SessionlessCnxnTimeout", c.SessionlessCnxnTimeout, 10 * time.Second},
		{"MaxWatchesPerSession", c.MaxWatchesPerSession, 100000},
		{"PeerAddressCheck", c.PeerAddressCheck, true},
		{"MinSessionTimeout", c.MinSessionTimeout, 6 * time.Second},
		{"MaxSessionTimeout", c.MaxSessionTimeout, 60 * time.Second},
		{"FourLetterWhitelist", c.FourLetterWhitelist, map[string]bool{"srvr": true}},
		{"ExtendedTypesEnabled", c.ExtendedTypesEnabled, false},
		{"JuteMaxBuffer", c.JuteMaxBuffer, 0xfffff},
		{"GlobalOutstandingLimit", c.GlobalOutstandingLimit, 1000},
		{"ReconfigEnabled", c.ReconfigEnabled, false},
		{"StandaloneEnabled", c.StandaloneEnabled, true},
		{"ReadOnlyModeEnabled", c.ReadOnlyModeEnabled, false},
		{"IgnoreUndecodableEntries", c.IgnoreUndecodableEntries, false},
		{"ContainerCheckInterval", c.ContainerCheckInterval, time.Minute},
		{"AutopurgeSnapRetainCount", c.AutopurgeSnapRetainCount, 3},
		{"AutopurgePurgeInterval", c.AutopurgePurgeInterval, time.Duration(0)},
		{"AdminServerEnabled", c.AdminServerEnabled, false},
		{"AdminServerPort", c.AdminServerPort, 8080},
		{"ClientPortListenBacklog", c.ClientPortListenBacklog, -1},
		{"MyID", c.MyID, UnsetServerID},
		{"ClientAddr", c.ClientAddr(), ":2181"},
		{"Distributed", c.Distributed(), false},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

func TestKeys(t *testing.T) {
	tests := []struct {
		line string
		get  func(*Config) any
		want any
	}{
		{"tickTime=2000", func(c *Config) any { return c.TickTime }, 2 * time.Second},
		{"tickTime=2000", func(c *Config) any { return c.MinSessionTimeout }, 4 * time.Second},
		{"tickTime=2000", func(c *Config) any { return c.MaxSessionTimeout }, 40 * time.Second},
		{"initLimit=10", func(c *Config) any { return c.InitLimit }, 10},
		{"syncLimit=5", func(c *Config) any { return c.SyncLimit }, 5},
		{"dataDir=/var/lib/zk", func(c *Config) any { return c.DataDir }, "/var/lib/zk"},
		{"dataDir=/var/lib/zk", func(c *Config) any { return c.DataLogDir }, "/var/lib/zk"},
		{"dataLogDir=/logs", func(c *Config) any { return c.DataLogDir }, "/logs"},
		{"clientPort=2182", func(c *Config) any { return c.ClientPort }, 2182},
		{"clientPort=0", func(c *Config) any { return c.ClientAddr() }, ":0"},
		{"clientPortAddress=127.0.0.1", func(c *Config) any { return c.ClientAddr() }, "127.0.0.1:2181"},
		{"clientPortAddress=[::1]", func(c *Config) any { return c.ClientAddr() }, "[::1]:2181"},
		{"clientPortAddress=zk-1.example.com", func(c *Config) any { return c.ClientPortAddress }, "zk-1.example.com"},
		{"secureClientPort=2281", func(c *Config) any { return c.SecureClientPort }, 2281},
		{"clientPortListenBacklog=128", func(c *Config) any { return c.ClientPortListenBacklog }, 128},
		{"maxClientCnxns=0", func(c *Config) any { return c.MaxClientCnxns }, 0},
		{"minSessionTimeout=1000", func(c *Config) any { return c.MinSessionTimeout }, time.Second},
		{"maxSessionTimeout=90000", func(c *Config) any { return c.MaxSessionTimeout }, 90 * time.Second},
		{"minSessionTimeout=-1", func(c *Config) any { return c.MinSessionTimeout }, 6 * time.Second},
		{"4lw.commands.whitelist=stat, ruok , conf,", func(c *Config) any { return c.FourLetterWhitelist }, map[string]bool{"stat": true, "ruok": true, "conf": true}},
		{"4lw.commands.whitelist=*", func(c *Config) any { return c.FourLetterAllowed("mntr") }, true},
		{"4lw.commands.whitelist=*", func(c *Config) any { return c.FourLetterAllowed("abcd") }, false},
		{"4lw.commands.whitelist=ruok", func(c *Config) any { return c.FourLetterAllowed("srvr") }, true},
		{"4lw.commands.whitelist=ruok", func(c *Config) any { return c.FourLetterAllowed("stat") }, false},
		{"zookeeper.4lw.commands.whitelist=mntr", func(c *Config) any { return c.FourLetterAllowed("mntr") }, true},
		{"readonlymode.enabled=true", func(c *Config) any { return c.FourLetterAllowed("isro") }, true},
		{"readonlymode.enabled=true", func(c *Config) any { return c.ReadOnlyModeEnabled }, true},
		{"zookeeper.readonlymode.enabled=TRUE", func(c *Config) any { return c.ReadOnlyModeEnabled }, true},
		{"extendedTypesEnabled=true", func(c *Config) any { return c.ExtendedTypesEnabled }, true},
		{"zookeeper.extendedTypesEnabled=true", func(c *Config) any { return c.ExtendedTypesEnabled }, true},
		{"DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=", func(c *Config) any { return c.SuperDigest }, "super:D/InIHSb7yEEbrWz8b9l71RjZJU="},
		{"zookeeper.DigestAuthenticationProvider.superDigest=super:abc=", func(c *Config) any { return c.SuperDigest }, "super:abc="},
		{"jute.maxbuffer=8388608", func(c *Config) any { return c.JuteMaxBuffer }, 8388608},
		{"jute.maxbuffer=0x800000", func(c *Config) any { return c.JuteMaxBuffer }, 8388608},
		{"zookeeper.jute.maxbuffer=4194304", func(c *Config) any { return c.JuteMaxBuffer }, 4194304},
		{"globalOutstandingLimit=5000", func(c *Config) any { return c.GlobalOutstandingLimit }, 5000},
		{"zookeeper.globalOutstandingLimit=7", func(c *Config) any { return c.GlobalOutstandingLimit }, 7},
		{"reconfigEnabled=true", func(c *Config) any { return c.ReconfigEnabled }, true},
		{"standaloneEnabled=false", func(c *Config) any { return c.StandaloneEnabled }, false},
		{"znode.container.checkIntervalMs=500", func(c *Config) any { return c.ContainerCheckInterval }, 500 * time.Millisecond},
		{"zookeeper.znode.container.checkIntervalMs=100", func(c *Config) any { return c.ContainerCheckInterval }, 100 * time.Millisecond},
		{"autopurge.snapRetainCount=5", func(c *Config) any { return c.AutopurgeSnapRetainCount }, 5},
		{"autopurge.snapRetainCount=1", func(c *Config) any { return c.AutopurgeSnapRetainCount }, 3},
		{"snapCount=100", func(c *Config) any { return c.SnapCount }, 100},
		{"zookeeper.snapCount=50", func(c *Config) any { return c.SnapCount }, 50},
		{"snapCount=1", func(c *Config) any { return c.SnapCount }, 2},
		{"zkraft.ignoreUndecodableEntries=true", func(c *Config) any { return c.IgnoreUndecodableEntries }, true},
		{"zkraft.snapshotFormat=2", func(c *Config) any { return c.SnapshotFormat }, 2},
		{"maxCnxns=0", func(c *Config) any { return c.MaxCnxns }, 0},
		{"maxCnxns=500", func(c *Config) any { return c.MaxCnxns }, 500},
		{"nio.sessionlessCnxnTimeout=2500", func(c *Config) any { return c.SessionlessCnxnTimeout }, 2500 * time.Millisecond},
		{"zookeeper.nio.sessionlessCnxnTimeout=700", func(c *Config) any { return c.SessionlessCnxnTimeout }, 700 * time.Millisecond},
		{"zkraft.maxWatchesPerSession=0", func(c *Config) any { return c.MaxWatchesPerSession }, 0},
		{"zkraft.peerAddressCheck=false", func(c *Config) any { return c.PeerAddressCheck }, false},
		{"autopurge.purgeInterval=24", func(c *Config) any { return c.AutopurgePurgeInterval }, 24 * time.Hour},
		{"autopurge.purgeInterval=30m", func(c *Config) any { return c.AutopurgePurgeInterval }, 30 * time.Minute},
		{"admin.enableServer=true", func(c *Config) any { return c.AdminServerEnabled }, true},
		{"zookeeper.admin.enableServer=true", func(c *Config) any { return c.AdminServerEnabled }, true},
		{"admin.serverPort=9090", func(c *Config) any { return c.AdminAddr() }, "0.0.0.0:9090"},
		{"admin.serverAddress=127.0.0.1", func(c *Config) any { return c.AdminAddr() }, "127.0.0.1:8080"},
		{"metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider", func(c *Config) any { return c.MetricsProviderClassName }, "org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider"},
		{"metricsProvider.httpPort=7000", func(c *Config) any { return c.MetricsProvider }, map[string]string{"httpPort": "7000"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, _ := parse(t, tt.line+"\n")
			if got := tt.get(c); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestPropertiesSyntax(t *testing.T) {
	tests := []struct {
		name, src string
		dataDir   string
	}{
		{"equals", "dataDir=/d", "/d"},
		{"colon", "dataDir: /d", "/d"},
		{"colon no space", "dataDir:/d", "/d"},
		{"space", "dataDir /d", "/d"},
		{"space equals", "dataDir  =  /d", "/d"},
		{"tabs", "\tdataDir\t=\t/d\t", "/d"},
		{"trailing whitespace", "dataDir=/d   ", "/d"},
		{"crlf", "# c\r\ndataDir=/d\r\n", "/d"},
		{"cr", "# c\rdataDir=/d\r", "/d"},
		{"continuation", "dataDir=/var/\\\n    lib/zk", "/var/lib/zk"},
		{"double continuation", "dataDir=/a\\\n  /b\\\n  /c\n", "/a/b/c"},
		{"escaped backslash ends line", "dataDir=c:\\\\\n", "c:\\"},
		{"hash comment", "# dataDir=/x\ndataDir=/d", "/d"},
		{"bang comment", "! dataDir=/x\ndataDir=/d", "/d"},
		{"comment ending in backslash does not continue", "# x \\\ndataDir=/d", "/d"},
		{"hash inside value", "dataDir=/d#1", "/d#1"},
		{"escaped separator in key", "data\\=Dir=/x\ndataDir=/d", "/d"},
		{"unicode escape", "dataDir=/\\u0064", "/d"},
		{"last wins", "dataDir=/a\ndataDir=/d", "/d"},
		{"no newline at eof", "dataDir=/d", "/d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := parse(t, tt.src)
			if c.DataDir != tt.dataDir {
				t.Errorf("DataDir = %q, want %q", c.DataDir, tt.dataDir)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"# c\n\ntickTime=abc\n", `zoo.cfg:3: tickTime: "abc" is not a number`},
		{"tickTime=0", `zoo.cfg:1: tickTime: "0" must be positive`},
		{"initLimit=-1", `zoo.cfg:1: initLimit: "-1" must not be negative`},
		{"clientPort=70000", `zoo.cfg:1: clientPort: port 70000 is out of range`},
		{"clientPort=99999999999", `zoo.cfg:1: clientPort: "99999999999" is out of range`},
		{"secureClientPort=0", `zoo.cfg:1: secureClientPort: port 0 is out of range`},
		{"clientPortAddress=bad host!", `zoo.cfg:1: clientPortAddress: "bad host!" is not a valid host name or IP address`},
		{"maxClientCnxns=lots", `zoo.cfg:1: maxClientCnxns: "lots" is not a number`},
		{"standaloneEnabled=yes", `zoo.cfg:1: standaloneEnabled: "yes" is not a boolean (true or false)`},
		{"jute.maxbuffer=0", `zoo.cfg:1: jute.maxbuffer: "0" must be positive`},
		{"zkraft.snapshotFormat=4", `zoo.cfg:1: zkraft.snapshotFormat: "4" is not a snapshot format this version writes: 2 (read by every zkraft version) or 3 (the newest, the default)`},
		{"jute.maxbuffer=1MB", `zoo.cfg:1: jute.maxbuffer: "1MB" is not a number`},
		{"DigestAuthenticationProvider.superDigest=nocolon", `zoo.cfg:1: DigestAuthenticationProvider.superDigest: "nocolon" is not of the form user:base64digest`},
		{"autopurge.purgeInterval=often", `zoo.cfg:1: autopurge.purgeInterval: "often" is not a number of hours or a duration like 30m`},
		{"tickTime=2000\nminSessionTimeout=5000\nmaxSessionTimeout=4000", `zoo.cfg:2: minSessionTimeout: 5000 must not be larger than maxSessionTimeout (4000)`},
		{"tickTime=2000\nminSessionTimeout=50000", `zoo.cfg:2: minSessionTimeout: 50000 must not be larger than maxSessionTimeout (40000)`},
		{"minSessionTimeout=-5", `zoo.cfg:1: minSessionTimeout: "-5" must not be negative`},
		{"group.1=1:2:3", `zoo.cfg:1: group.1: hierarchical quorums (group./weight.) are not supported`},
		{"dataDir=/\\u00zz", `zoo.cfg:1: malformed \uxxxx encoding`},
		{"server.1=a:1:2\nserver.2=b:1:2\n", `zoo.cfg: initLimit: initLimit is not set`},
		{"initLimit=5\nserver.1=a:1:2\nserver.2=b:1:2\n", `zoo.cfg: syncLimit: syncLimit is not set`},
		{"server.1=a:1:2:observer\n", `zoo.cfg: server: every server is an observer; at least one participant is needed`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader(tt.src), "zoo.cfg")
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %q\nwant %q", err.Error(), tt.want)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	src := "tickTime=2000\nfooBar=1\nelectionAlg=3\nsecureClientPort=2281\n4lw.commands.whitelist=ruok,nope\ntickTime=2000\n"
	_, w := parse(t, src)
	var got []string
	for _, x := range w {
		got = append(got, x.String())
	}
	want := []string{
		"zoo.cfg:1: tickTime: repeated later in the file; this value is ignored",
		"zoo.cfg:2: fooBar: unknown key, ignored",
		"zoo.cfg:3: electionAlg: ignored: leader election is Raft's",
		`zoo.cfg:5: 4lw.commands.whitelist: "nope" is not a four-letter word ZooKeeper knows`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("warnings\n got %q\nwant %q", got, want)
	}
}

func TestServerLines(t *testing.T) {
	tests := []struct {
		line string
		want Server
		str  string
	}{
		{"server.1=zk1:2888:3888", Server{ID: 1, Host: "zk1", PeerPort: 2888, ElectionPort: 3888}, "zk1:2888:3888:participant"},
		{"server.2=zk2:2888:3888:participant", Server{ID: 2, Host: "zk2", PeerPort: 2888, ElectionPort: 3888}, "zk2:2888:3888:participant"},
		{"server.3=zk3:2888:3888:observer", Server{ID: 3, Host: "zk3", PeerPort: 2888, ElectionPort: 3888, Observer: true}, "zk3:2888:3888:observer"},
		{"server.4=zk4:2888:3888:OBSERVER", Server{ID: 4, Host: "zk4", PeerPort: 2888, ElectionPort: 3888, Observer: true}, "zk4:2888:3888:observer"},
		{"server.5=zk5:2888:3888;2181", Server{ID: 5, Host: "zk5", PeerPort: 2888, ElectionPort: 3888, ClientAddr: "0.0.0.0:2181"}, "zk5:2888:3888:participant;0.0.0.0:2181"},
		{"server.6=zk6:2888:3888;127.0.0.1:2182", Server{ID: 6, Host: "zk6", PeerPort: 2888, ElectionPort: 3888, ClientAddr: "127.0.0.1:2182"}, "zk6:2888:3888:participant;127.0.0.1:2182"},
		{"server.7=zk7:2888:3888:observer;0.0.0.0:2181", Server{ID: 7, Host: "zk7", PeerPort: 2888, ElectionPort: 3888, Observer: true, ClientAddr: "0.0.0.0:2181"}, "zk7:2888:3888:observer;0.0.0.0:2181"},
		{"server.8=[::1]:2888:3888;[::1]:2181", Server{ID: 8, Host: "::1", PeerPort: 2888, ElectionPort: 3888, ClientAddr: "[::1]:2181"}, "[::1]:2888:3888:participant;[::1]:2181"},
		{"server.9=10.0.0.9:2888:3888;", Server{ID: 9, Host: "10.0.0.9", PeerPort: 2888, ElectionPort: 3888}, "10.0.0.9:2888:3888:participant"},
		{"server.10=zk10:2888:3888;2181;2281", Server{ID: 10, Host: "zk10", PeerPort: 2888, ElectionPort: 3888, ClientAddr: "0.0.0.0:2181", SecureClientAddr: "0.0.0.0:2281"}, "zk10:2888:3888:participant;0.0.0.0:2181;0.0.0.0:2281"},
		{"server.11=zk11:2888:3888;;2281", Server{ID: 11, Host: "zk11", PeerPort: 2888, ElectionPort: 3888, SecureClientAddr: "0.0.0.0:2281"}, "zk11:2888:3888:participant;;0.0.0.0:2281"},
		{"server.0 = zk0:2888:3888 ", Server{ID: 0, Host: "zk0", PeerPort: 2888, ElectionPort: 3888}, "zk0:2888:3888:participant"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			c, _ := parse(t, "initLimit=5\nsyncLimit=2\n"+tt.line+"\nserver.100=p:1:2\n")
			got, ok := c.Server(tt.want.ID)
			if len(c.Servers) != 2 || !ok {
				t.Fatalf("Servers = %v", c.Servers)
			}
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
			if s := got.String(); s != tt.str {
				t.Errorf("String() = %q, want %q", s, tt.str)
			}
		})
	}
}

func TestServerLineErrors(t *testing.T) {
	tests := []struct{ line, want string }{
		{"server.x=a:1:2", `server id "x" is not a non-negative number`},
		{"server.-1=a:1:2", `server id "-1" is not a non-negative number`},
		{"server.1=a:1", `expected 3 or 4 ':'-separated fields, got 2`},
		{"server.1=a:1:2:observer:x", `expected 3 or 4 ':'-separated fields, got 5`},
		{"server.1=a:b:2", `peer port: "b" is not a number`},
		{"server.1=a:1:70000", `election port: 70000 is out of range`},
		{"server.1=a:2888:2888", `peer and election port must be different`},
		{"server.1=a:1:2:voter", `unrecognised peer type "voter"`},
		{"server.1=a:1:2;b:c", `client address: "c" is not a number`},
		{"server.1=a:1:2;x:y:3", `client address: "x:y:3" is not [host:]port`},
		{"server.1=a:1:2|b:1:2", `multiple addresses are not supported`},
		{"server.1=[::1:1:2", `missing ']' after IPv6 address`},
		{"server.1=a:1:2;1;2;3", `too many ';' parts`},
		{"server.1=bad_host!:1:2", `"bad_host!" is not a valid host`},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, _, err := Parse(strings.NewReader("# x\n"+tt.line), "zoo.cfg")
			if err == nil {
				t.Fatal("no error")
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Line != 2 || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want line 2 and %q", err, tt.want)
			}
		})
	}
	_, _, err := Parse(strings.NewReader("server.1=a:1:2\nserver.01=b:1:2\n"), "zoo.cfg")
	if err == nil || err.Error() != "zoo.cfg:2: server.01: server id 1 is already defined by server.1" {
		t.Errorf("duplicate id: %v", err)
	}
}

func TestDistributed(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{"server.1=a:1:2", false},
		{"server.1=a:1:2\nserver.2=b:1:2:observer", false},
		{"standaloneEnabled=false\nserver.1=a:1:2\ninitLimit=1\nsyncLimit=1", true},
		{"initLimit=1\nsyncLimit=1\nserver.1=a:1:2\nserver.2=b:1:2", true},
	}
	for _, tt := range tests {
		c, _ := parse(t, tt.src)
		if c.Distributed() != tt.want {
			t.Errorf("%q: Distributed = %v", tt.src, !tt.want)
		}
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")

	writeFile(t, cfg, "tickTime=2000\nclientPort=2181\n")
	if _, _, err := Load(cfg); err == nil || err.Error() != "zoo.cfg: dataDir: dataDir is not set" {
		t.Errorf("no dataDir: %v", err)
	}

	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o755); err != nil {
		t.Fatal(err)
	}
	ensemble := "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=" + data + "\n" +
		"server.1=127.0.0.1:2888:3888;127.0.0.1:2191\nserver.2=127.0.0.1:2889:3889;2192\nserver.3=127.0.0.1:2890:3890:observer\n"
	writeFile(t, cfg, ensemble)
	if _, _, err := Load(cfg); !errors.Is(err, ErrMissingMyID) {
		t.Errorf("missing myid: %v", err)
	}

	writeFile(t, filepath.Join(data, "myid"), "1\n")
	c, _, err := Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.MyID != 1 || c.ClientAddr() != "127.0.0.1:2191" {
		t.Errorf("myid 1: MyID=%d ClientAddr=%s", c.MyID, c.ClientAddr())
	}

	writeFile(t, filepath.Join(data, "myid"), "2")
	c, _, err = Load(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.MyID != 2 || c.ClientAddr() != ":2192" {
		t.Errorf("myid 2: MyID=%d ClientAddr=%s", c.MyID, c.ClientAddr())
	}

	writeFile(t, filepath.Join(data, "myid"), "7")
	if _, _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "myid 7") {
		t.Errorf("unknown myid: %v", err)
	}
	writeFile(t, filepath.Join(data, "myid"), "one")
	if _, _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), `serverid "one" is not a number`) {
		t.Errorf("bad myid: %v", err)
	}

	writeFile(t, filepath.Join(data, "myid"), "1")
	writeFile(t, cfg, ensemble+"clientPort=2200\n")
	if _, _, err := Load(cfg); err == nil || !strings.Contains(err.Error(), "different from the server line") {
		t.Errorf("conflicting client port: %v", err)
	}

	// Standalone: myid optional.
	writeFile(t, cfg, "dataDir="+dir+"\n")
	c, _, err = Load(cfg)
	if err != nil || c.MyID != UnsetServerID {
		t.Errorf("standalone: %v %d", err, c.MyID)
	}

	if _, _, err := Load(filepath.Join(dir, "nope.cfg")); err == nil {
		t.Error("missing file: no error")
	}
}

// TestSampleConfig parses the zoo_sample.cfg ZooKeeper ships.
func TestSampleConfig(t *testing.T) {
	const sample = `# The number of milliseconds of each tick
tickTime=2000
# The number of ticks that the initial
# synchronization phase can take
initLimit=10
# The number of ticks that can pass between
# sending a request and getting an acknowledgement
syncLimit=5
# the directory where the snapshot is stored.
# do not use /tmp for storage, /tmp here is just
# example sakes.
dataDir=/tmp/zookeeper
# the port at which the clients will connect
clientPort=2181
# the maximum number of client connections.
# increase this if you need to handle more clients
#maxClientCnxns=60
#
# Be sure to read the maintenance section of the
# administrator guide before turning on autopurge.
#
# https://zookeeper.apache.org/doc/current/zookeeperAdmin.html#sc_maintenance
#
# The number of snapshots to retain in dataDir
#autopurge.snapRetainCount=3
# Purge task interval in hours
# Set to "0" to disable auto purge feature
#autopurge.purgeInterval=1

## Metrics Providers
#
# https://prometheus.io Metrics Exporter
#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider
#metricsProvider.httpHost=0.0.0.0
#metricsProvider.httpPort=7000
#metricsProvider.exportJvmInfo=true
`
	c, w := parse(t, sample)
	if len(w) != 0 || c.TickTime != 2*time.Second || c.DataDir != "/tmp/zookeeper" || c.ClientPort != 2181 || c.InitLimit != 10 || c.SyncLimit != 5 {
		t.Errorf("sample: %+v %v", c, w)
	}
}
