package fourletter

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Version is the ZooKeeper version zkraft presents to clients.
const Version = "3.8.0"

// ZkraftVersion is zkraft's own version, appended to Version in FullVersion.
var ZkraftVersion = "0.1.0"

// BuildTime is shown as the build date; set it at link time or leave the default.
var BuildTime = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// FullVersion is "3.8.0-zkraft-<ver>, built on MM/DD/YYYY HH:MM GMT", the text
// after "Zookeeper version: " (Version.getFullVersion).
func FullVersion() string {
	return Version + "-zkraft-" + ZkraftVersion + ", built on " + BuildTime.UTC().Format("01/02/2006 15:04") + " GMT"
}

// NotServing is ZooKeeper's reply when the server cannot answer yet.
const NotServing = "This ZooKeeper instance is not currently serving requests\n"

// Words lists the four-letter words Reply answers.
var Words = []string{"conf", "cons", "crst", "dirs", "dump", "envi", "isro", "mntr", "ruok", "srst", "srvr", "stat", "wchc", "wchp", "wchs"}

// NotWhitelisted is the reply to a word that is not in 4lw.commands.whitelist.
func NotWhitelisted(word string) []byte {
	return []byte(word + " is not executed because it is not in the whitelist.\n")
}

// Server is what srvr, stat and the head of mntr show (ServerStats).
type Server struct {
	Version     string // FullVersion() when empty
	Mode        string // standalone, leader, follower, observer, read-only
	ReadOnly    bool   // adds the "READ-ONLY mode" line
	MinLatency  int64  // ms
	AvgLatency  float64
	MaxLatency  int64
	Received    int64 // packets received
	Sent        int64 // packets sent
	Connections int64 // live client connections
	Outstanding int64 // outstanding requests
	Zxid        int64 // last processed zxid
	NodeCount   int64
	// ProposalSizes is the leader's "Proposal sizes last/min/max" (-1 when none); nil unless leader.
	ProposalSizes *[3]int64
}

// Conn is one client connection, as ServerCnxn.dumpConnectionInfo prints it.
type Conn struct {
	Remote      netip.AddrPort
	InterestOps int // 1 while reading (the usual), 0 when throttled or closing
	Queued      int64
	Received    int64
	Sent        int64
	// SessionID 0 prints the short form (queued/recved/sent only), as ZooKeeper
	// does for a connection with no session (e.g. the one asking for cons).
	// go-zookeeper's FLWCons rejects such lines: a server should leave out the
	// four-letter-word connection itself.
	SessionID    int64
	LastOp       string // Request.op2String name, see OpName; "NA" before any
	Established  time.Time
	Timeout      int32 // negotiated session timeout, ms
	LastCxid     int64 // printed only when >= 0
	LastZxid     int64
	LastResponse time.Time
	LastLatency  int64 // ms
	MinLatency   int64
	AvgLatency   int64 // integer ms, as ServerCnxn.getAvgLatency
	MaxLatency   int64
}

// Source is implemented by the server; Reply calls only what a word needs.
type Source interface {
	Serving() bool // false before the server can answer requests
	Server() Server
	Connections() []Conn
	Monitor() Monitor
	Conf() Conf
	Env() Env
	Watches() []Watch
	Dump() Dump
	Dirs() (dataDirSize, logDirSize int64)
	ResetServerStats()
	ResetConnStats()
}

// Reply answers word from src. ok is false for a word it does not know (ZooKeeper
// then treats the bytes as a frame length). The caller checks the whitelist first.
func Reply(word string, src Source) (out []byte, ok bool) {
	needsServer := word != "ruok" && word != "envi" && word != "isro"
	if !slices.Contains(Words, word) {
		return nil, false
	}
	if needsServer && !src.Serving() {
		return []byte(NotServing), true
	}
	switch word {
	case "ruok":
		return Ruok(), true
	case "isro":
		if !src.Serving() {
			return []byte("null"), true
		}
		return Isro(src.Server().ReadOnly), true
	case "srvr":
		return Srvr(src.Server()), true
	case "stat":
		return Stat(src.Server(), src.Connections()), true
	case "cons":
		return Cons(src.Connections()), true
	case "mntr":
		return Mntr(src.Server(), src.Monitor()), true
	case "conf":
		return ConfReply(src.Conf()), true
	case "envi":
		return Envi(src.Env()), true
	case "wchs":
		return Wchs(src.Watches()), true
	case "wchc":
		return Wchc(src.Watches()), true
	case "wchp":
		return Wchp(src.Watches()), true
	case "dump":
		return DumpReply(src.Dump()), true
	case "dirs":
		d, l := src.Dirs()
		return Dirs(d, l), true
	case "srst":
		src.ResetServerStats()
		return []byte("Server stats reset.\n"), true
	case "crst":
		src.ResetConnStats()
		return []byte("Connection stats reset.\n"), true
	}
	return nil, false
}

// Ruok is "imok", no newline.
func Ruok() []byte { return []byte("imok") }

// Isro is "ro" or "rw", no newline.
func Isro(readOnly bool) []byte {
	if readOnly {
		return []byte("ro")
	}
	return []byte("rw")
}

// Dirs is the dirs reply.
func Dirs(dataDirSize, logDirSize int64) []byte {
	return fmt.Appendf(nil, "datadir_size: %d\nlogdir_size: %d\n", dataDirSize, logDirSize)
}

// Srvr is the srvr reply (StatCommand without the client list).
func Srvr(s Server) []byte { return stat(s, nil, false) }

// Stat is the stat reply: srvr plus a brief line per connection.
func Stat(s Server, conns []Conn) []byte { return stat(s, conns, true) }

func stat(s Server, conns []Conn, withClients bool) []byte {
	var b bytes.Buffer
	b.WriteString("Zookeeper version: " + version(s) + "\n")
	if s.ReadOnly {
		b.WriteString("READ-ONLY mode; serving only read-only clients\n")
	}
	if withClients {
		b.WriteString("Clients:\n")
		for _, c := range conns {
			writeConn(&b, c, true)
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "Latency min/avg/max: %d/%s/%d\n", s.MinLatency, javaDouble(round4(s.AvgLatency)), s.MaxLatency)
	fmt.Fprintf(&b, "Received: %d\nSent: %d\nConnections: %d\nOutstanding: %d\n", s.Received, s.Sent, s.Connections, s.Outstanding)
	fmt.Fprintf(&b, "Zxid: 0x%s\nMode: %s\nNode count: %d\n", hex(s.Zxid), s.Mode, s.NodeCount)
	if s.ProposalSizes != nil {
		p := s.ProposalSizes
		fmt.Fprintf(&b, "Proposal sizes last/min/max: %d/%d/%d\n", p[0], p[1], p[2])
	}
	return b.Bytes()
}

func version(s Server) string {
	if s.Version != "" {
		return s.Version
	}
	return FullVersion()
}

// Cons is the cons reply: a full line per connection, then an empty line.
func Cons(conns []Conn) []byte {
	var b bytes.Buffer
	for _, c := range conns {
		writeConn(&b, c, false)
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.Bytes()
}

func writeConn(b *bytes.Buffer, c Conn, brief bool) {
	b.WriteString(" " + JavaAddr(c.Remote) + "[")
	if c.InterestOps == 0 {
		b.WriteString("0")
	} else {
		b.WriteString(strconv.FormatInt(int64(c.InterestOps), 16))
	}
	fmt.Fprintf(b, "](queued=%d,recved=%d,sent=%d", c.Queued, c.Received, c.Sent)
	if !brief && c.SessionID != 0 {
		lop := c.LastOp
		if lop == "" {
			lop = "NA"
		}
		fmt.Fprintf(b, ",sid=0x%s,lop=%s,est=%d,to=%d", hex(c.SessionID), lop, millis(c.Established), c.Timeout)
		if c.LastCxid >= 0 {
			fmt.Fprintf(b, ",lcxid=0x%s", hex(c.LastCxid))
		}
		fmt.Fprintf(b, ",lzxid=0x%s,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d",
			hex(c.LastZxid), millis(c.LastResponse), c.LastLatency, c.MinLatency, c.AvgLatency, c.MaxLatency)
	}
	b.WriteString(")")
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// hex is Long.toHexString: two's complement, lower case, no padding.
func hex(v int64) string { return strconv.FormatUint(uint64(v), 16) }

// JavaAddr prints an address as Java's InetSocketAddress.toString does for an
// accepted socket: "/1.2.3.4:5", "/[0:0:0:0:0:0:0:1]:5".
func JavaAddr(ap netip.AddrPort) string {
	a := ap.Addr().Unmap()
	if !a.IsValid() {
		return "/0.0.0.0:0"
	}
	port := strconv.Itoa(int(ap.Port()))
	if a.Is4() {
		return "/" + a.String() + ":" + port
	}
	b := a.As16()
	var parts [8]string
	for i := range parts {
		parts[i] = strconv.FormatUint(uint64(b[2*i])<<8|uint64(b[2*i+1]), 16)
	}
	s := strings.Join(parts[:], ":")
	if z := a.Zone(); z != "" {
		s += "%" + z
	}
	return "/[" + s + "]:" + port
}

func round4(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return math.Round(f*10000) / 10000
}

// javaDouble formats f as Java's Double.toString does for values below 10^7:
// the shortest representation, always with a fractional part ("0.0", "3.0769").
func javaDouble(f float64) string {
	a := math.Abs(f)
	if a != 0 && (a >= 1e7 || a < 1e-3) {
		s := strconv.FormatFloat(f, 'E', -1, 64) // 1.0E7 style
		mant, exp, _ := strings.Cut(s, "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		e, _ := strconv.Atoi(exp)
		return mant + "E" + strconv.Itoa(e)
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// OpName is the short name FinalRequestProcessor records as a connection's
// last operation (cons "lop="); "NA" for an op it does not name.
func OpName(op int32) string {
	if n, ok := opNames[op]; ok {
		return n
	}
	return "NA"
}

var opNames = map[int32]string{
	11: "PING", -10: "SESS", 14: "MULT", 22: "MLTR", 1: "CREA", 15: "CREA", 19: "CREA", 21: "CREA",
	2: "DELE", 20: "DELE", 5: "SETD", 16: "RECO", 7: "SETA", -11: "CLOS", 9: "SYNC", 13: "CHEC",
	3: "EXIS", 4: "GETD", 101: "SETW", 105: "STW2", 106: "ADDW", 6: "GETA", 8: "GETC", 12: "GETC",
	104: "GETACN", 17: "CHKW", 18: "REMW", 107: "HOMI", 103: "GETE",
}
