package zkdata

import (
	"bytes"
	"errors"
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/zkproto"
)

// logWriter writes a ZooKeeper transaction log as FileTxnLog does, for tests.
type logWriter struct{ buf bytes.Buffer }

func newLog() *logWriter {
	w := &logWriter{}
	e := zkproto.Encoder{}
	e.Int(logMagic)
	e.Int(fileVersion)
	e.Long(0)
	w.buf.Write(e.Buf)
	return w
}

type hdr struct {
	session int64
	zxid    int64
	time    int64
	op      zkproto.OpCode
}

// add appends one txn: the header, the record's encoding and a digest if given.
func (w *logWriter) add(h hdr, rec func(*zkproto.Encoder), digest *uint64) {
	e := zkproto.Encoder{}
	e.Long(h.session)
	e.Int(1)
	e.Long(h.zxid)
	e.Long(h.time)
	e.Int(int32(h.op))
	if rec != nil {
		rec(&e)
	}
	if digest != nil {
		e.Int(DigestVersion)
		e.Long(int64(*digest))
	}
	o := zkproto.Encoder{}
	o.Long(int64(adler32.Checksum(e.Buf)))
	o.Buffer(e.Buf)
	o.Buf = append(o.Buf, 'B')
	w.buf.Write(o.Buf)
}

var world = []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}

func create(path, data string, eph bool, pcv int32) func(*zkproto.Encoder) {
	return func(e *zkproto.Encoder) {
		e.String(path)
		e.Buffer([]byte(data))
		e.ACLs(world)
		e.Bool(eph)
		e.Int(pcv)
	}
}

func str(s string) func(*zkproto.Encoder) { return func(e *zkproto.Encoder) { e.String(s) } }

func subTxn(op zkproto.OpCode, rec func(*zkproto.Encoder)) func(*zkproto.Encoder) {
	return func(e *zkproto.Encoder) {
		s := zkproto.Encoder{}
		rec(&s)
		e.Int(int32(op))
		e.Buffer(s.Buf)
	}
}

func multi(subs ...func(*zkproto.Encoder)) func(*zkproto.Encoder) {
	return func(e *zkproto.Encoder) {
		e.Int(int32(len(subs)))
		for _, s := range subs {
			s(e)
		}
	}
}

// dataDir writes a version-2 directory with the given files.
func dataDir(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	v2 := filepath.Join(dir, "version-2")
	if err := os.MkdirAll(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(v2, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// snapshotOf writes tree t as a snapshot file's bytes.
func snapshotOf(t *testing.T, tr *Tree) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := WriteSnapshot(&b, tr.Zxid, tr.Sessions, tr.Records()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Every txn type replays as DataTree.processTxn applies it.
func TestReplayEveryTxnType(t *testing.T) {
	const s1, s2 = 0x100, 0x200
	l := newLog()
	l.add(hdr{s1, 1, 1000, zkproto.OpCreateSession}, func(e *zkproto.Encoder) { e.Int(30000) }, nil)
	l.add(hdr{s2, 2, 1001, zkproto.OpCreateSession}, func(e *zkproto.Encoder) { e.Int(4000) }, nil)
	l.add(hdr{s1, 3, 1002, zkproto.OpCreate}, create("/a", "A", false, 1), nil)
	l.add(hdr{s1, 4, 1003, zkproto.OpCreate2}, create("/a/s-0000000000", "S", false, 1), nil)
	l.add(hdr{s2, 5, 1004, zkproto.OpCreate}, create("/a/e", "E", true, 2), nil)
	l.add(hdr{s1, 6, 1005, zkproto.OpCreateContainer}, func(e *zkproto.Encoder) {
		e.String("/c")
		e.Buffer(nil)
		e.ACLs(world)
		e.Int(2)
	}, nil)
	l.add(hdr{s1, 7, 1006, zkproto.OpCreateTTL}, func(e *zkproto.Encoder) {
		e.String("/t")
		e.Buffer([]byte("T"))
		e.ACLs(world)
		e.Int(3)
		e.Long(5000)
	}, nil)
	l.add(hdr{s1, 8, 1007, zkproto.OpSetData}, func(e *zkproto.Encoder) {
		e.String("/a")
		e.Buffer([]byte("A2"))
		e.Int(1)
	}, nil)
	l.add(hdr{s1, 9, 1008, zkproto.OpSetACL}, func(e *zkproto.Encoder) {
		e.String("/a")
		e.ACLs([]zkproto.ACL{{Perms: zkproto.PermRead, ID: zkproto.Id{Scheme: "digest", ID: "u:x"}}})
		e.Int(1)
	}, nil)
	l.add(hdr{s1, 10, 1009, zkproto.OpMulti}, multi(
		subTxn(zkproto.OpCreate, create("/m", "M", false, 4)),
		subTxn(zkproto.OpCheck, func(e *zkproto.Encoder) { e.String("/m"); e.Int(0) }),
		subTxn(zkproto.OpSetData, func(e *zkproto.Encoder) { e.String("/m"); e.Buffer([]byte("M2")); e.Int(1) }),
		subTxn(zkproto.OpDelete, str("/a/s-0000000000")),
	), nil)
	// A failed multi: error sub-txns; nothing applies.
	l.add(hdr{s1, 11, 1010, zkproto.OpMulti}, multi(
		subTxn(zkproto.OpError, func(e *zkproto.Encoder) { e.Int(0) }),
		subTxn(zkproto.OpError, func(e *zkproto.Encoder) { e.Int(int32(zkproto.ErrBadVersion)) }),
	), nil)
	l.add(hdr{s1, 12, 1011, zkproto.OpError}, func(e *zkproto.Encoder) { e.Int(int32(zkproto.ErrNoNode)) }, nil)
	l.add(hdr{s1, 13, 1012, zkproto.OpCheck}, func(e *zkproto.Encoder) { e.String("/m"); e.Int(1) }, nil)
	l.add(hdr{s1, 14, 1013, zkproto.OpDeleteContainer}, str("/c"), nil)
	l.add(hdr{s1, 15, 1014, zkproto.OpReconfig}, func(e *zkproto.Encoder) {
		e.String("/zookeeper/config")
		e.Buffer([]byte("server.1=x"))
		e.Int(0)
	}, nil)
	// closeSession with the paths to delete (3.6+), and one without (older).
	l.add(hdr{s2, 16, 1015, zkproto.OpCloseSession}, func(e *zkproto.Encoder) { e.Strings([]string{"/a/e"}) }, nil)
	l.add(hdr{s1, 17, 1016, zkproto.OpDelete}, str("/m"), nil)
	dir := dataDir(t, map[string][]byte{"log.1": l.buf.Bytes()})

	res, err := Load(LoadOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	tr := res.Tree
	if tr.Zxid != 17 || res.Txns != 17 {
		t.Fatalf("zxid %#x after %d txns", tr.Zxid, res.Txns)
	}
	want := map[string]struct {
		data string
		stat Stat
	}{
		"/a": {"A2", Stat{Czxid: 3, Mzxid: 8, Ctime: 1002, Mtime: 1007, Version: 1, Cversion: 2, Aversion: 1, Pzxid: 16}},
		"/t": {"T", Stat{Czxid: 7, Mzxid: 7, Ctime: 1006, Mtime: 1006, EphemeralOwner: datatree.TTLOwner(5000), Pzxid: 7}},
		"/":  {"", Stat{Cversion: 4, Pzxid: 17}},
	}
	for p, w := range want {
		n := tr.Nodes[p]
		if n == nil {
			t.Errorf("%s missing", p)
			continue
		}
		if string(n.Data) != w.data || n.Stat != w.stat {
			t.Errorf("%s: %q %+v, want %q %+v", p, n.Data, n.Stat, w.data, w.stat)
		}
	}
	for _, gone := range []string{"/c", "/m", "/a/e", "/a/s-0000000000"} {
		if tr.Nodes[gone] != nil {
			t.Errorf("%s survived", gone)
		}
	}
	if got := string(tr.Nodes["/zookeeper/config"].Data); got != "server.1=x" {
		t.Errorf("reconfig: /zookeeper/config %q", got)
	}
	if got := tr.Nodes["/a"].ACL; len(got) != 1 || got[0].ID.ID != "u:x" {
		t.Errorf("setACL: %v", got)
	}
	if _, ok := tr.Sessions[s2]; ok || tr.Sessions[s1] != 30000 {
		t.Errorf("sessions %v", tr.Sessions)
	}
	// The zkraft tree continues the sequence: /a's next sequential child is 2.
	dt, err := tr.ToDataTree()
	if err != nil {
		t.Fatal(err)
	}
	txn := &datatree.Txn{Kind: datatree.TxnRequest, Op: zkproto.OpCreate, Session: s1, Auth: []zkproto.Id{{Scheme: "super"}},
		Request: &zkproto.CreateRequest{Path: "/a/s-", ACL: world, Flags: zkproto.CreateMode(2)}}
	r := dt.Apply(txn)
	if r.Err != zkproto.ErrOK || r.Response.(*zkproto.CreateResponse).Path != "/a/s-0000000002" || r.Zxid != 18 {
		t.Errorf("next sequential create: %+v %+v", r, r.Response)
	}
	if si, ok := dt.Session(s1); !ok || !bytes.Equal(si.Password, SessionPassword(s1)) || si.Timeout != 30000 {
		t.Errorf("session %#x imported as %+v", s1, si)
	}
}

// Replay over a fuzzy snapshot: the snapshot already holds the effects of txns after
// its zxid, and replaying them reaches the same tree as without the snapshot.
func TestFuzzySnapshotReplay(t *testing.T) {
	full := newLog()
	full.add(hdr{1, 1, 10, zkproto.OpCreate}, create("/p", "", false, 1), nil)
	full.add(hdr{1, 2, 11, zkproto.OpCreate}, create("/p/a", "", false, 1), nil)
	full.add(hdr{1, 3, 12, zkproto.OpDelete}, str("/p/a"), nil)
	full.add(hdr{1, 4, 13, zkproto.OpCreate}, create("/p/b", "", false, 2), nil)
	ref, err := Load(LoadOptions{DataDir: dataDir(t, map[string][]byte{"log.1": full.buf.Bytes()})})
	if err != nil {
		t.Fatal(err)
	}
	// A snapshot named zxid 1 that caught /p after all four txns.
	snap := NewTree()
	snap.createNode("/p", nil, world, 0, 1, 1, 10)
	snap.createNode("/p/b", nil, world, 0, 2, 4, 13)
	snap.Zxid = 1
	dir := dataDir(t, map[string][]byte{"snapshot.1": snapshotOf(t, snap), "log.1": full.buf.Bytes()})
	res, err := Load(LoadOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tree.Digest() != ref.Tree.Digest() || res.Txns != 3 {
		t.Errorf("replay over the fuzzy snapshot: digest %d (%d txns), want %d", res.Tree.Digest(), res.Txns, ref.Tree.Digest())
	}
	if got, want := res.Tree.Nodes["/p"].Stat, ref.Tree.Nodes["/p"].Stat; got != want {
		t.Errorf("/p: %+v, want %+v", got, want)
	}
}

// Damage fails the load with the file and offset; digests ZooKeeper logged are
// checked.
func TestBadInput(t *testing.T) {
	good := newLog()
	good.add(hdr{1, 1, 10, zkproto.OpCreate}, create("/x", "data", false, 1), nil)
	good.add(hdr{1, 2, 11, zkproto.OpCreate}, create("/y", "data", false, 2), nil)
	logBytes := good.buf.Bytes()
	tr := NewTree()
	tr.createNode("/q", []byte("hello"), world, 0, 1, 1, 10)
	tr.Zxid = 1
	snap := snapshotOf(t, tr)
	if _, err := Load(LoadOptions{DataDir: dataDir(t, map[string][]byte{"snapshot.1": snap, "log.1": logBytes})}); err != nil {
		t.Fatalf("good input: %v", err)
	}

	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x40
		return c
	}
	wrongDigest := newLog()
	d := uint64(12345)
	wrongDigest.add(hdr{1, 1, 10, zkproto.OpCreate}, create("/x", "data", false, 1), &d)
	gap := newLog()
	gap.add(hdr{1, 1, 10, zkproto.OpCreate}, create("/x", "data", false, 1), nil)
	gap.add(hdr{1, 3, 11, zkproto.OpCreate}, create("/y", "data", false, 2), nil)

	for _, c := range []struct {
		name  string
		files map[string][]byte
		file  string
		want  string
	}{
		{"snapshot flipped byte", map[string][]byte{"snapshot.1": flip(snap, len(snap)/2)}, "snapshot.1", "offset"},
		{"snapshot truncated", map[string][]byte{"snapshot.1": snap[:len(snap)-30]}, "snapshot.1", "truncated"},
		{"snapshot bad magic", map[string][]byte{"snapshot.1": flip(snap, 0)}, "snapshot.1", "magic"},
		{"log flipped byte", map[string][]byte{"log.1": flip(logBytes, len(logBytes)-10)}, "log.1", "checksum"},
		{"log torn tail", map[string][]byte{"log.1": logBytes[:len(logBytes)-5]}, "log.1", "truncated"},
		{"log gap", map[string][]byte{"log.1": gap.buf.Bytes()}, "log.1", "missing"},
		{"digest mismatch", map[string][]byte{"log.1": wrongDigest.buf.Bytes()}, "", "digest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(LoadOptions{DataDir: dataDir(t, c.files)})
			if err == nil {
				t.Fatal("loaded")
			}
			var fe *FormatError
			if c.file != "" && (!errors.As(err, &fe) || filepath.Base(fe.File) != c.file) {
				t.Errorf("error does not name %s: %v", c.file, err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q lacks %q", err, c.want)
			}
		})
	}
	// A newest snapshot cut short (ZooKeeper stopped while writing it): the error
	// names the previous one, which --snapshot takes.
	two := dataDir(t, map[string][]byte{"snapshot.0": snapshotOf(t, NewTree()), "snapshot.1": snap[:len(snap)-30], "log.1": logBytes})
	_, err := Load(LoadOptions{DataDir: two})
	if err == nil || !strings.Contains(err.Error(), "--snapshot "+filepath.Join(two, "version-2", "snapshot.0")) {
		t.Errorf("truncated newest snapshot: %v", err)
	}
	if res, err := Load(LoadOptions{DataDir: two, Snapshot: filepath.Join(two, "version-2", "snapshot.0")}); err != nil || res.Txns != 2 {
		t.Errorf("from the previous snapshot: %v %+v", err, res)
	}
	// A torn tail of the newest log is dropped on request, as ZooKeeper does.
	res, err := Load(LoadOptions{DataDir: dataDir(t, map[string][]byte{"log.1": logBytes[:len(logBytes)-5]}), TruncateTornTail: true})
	if err != nil || res.Txns != 1 || res.TruncatedRecord == "" {
		t.Errorf("torn tail: %v, %+v", err, res)
	}
}

// A tree written by WriteSnapshot reads back with the same digest, and Export
// writes the epoch files.
func TestExportRoundTrip(t *testing.T) {
	dt := datatree.New()
	for i := 0; i < 50; i++ {
		dt.Apply(&datatree.Txn{Kind: datatree.TxnRequest, Op: zkproto.OpCreate, Time: int64(i),
			Request: &zkproto.CreateRequest{Path: fmt.Sprintf("/n%d", i%7) + strings.Repeat("/k", i/7), Data: []byte{byte(i)}, ACL: world}})
	}
	dt.Apply(&datatree.Txn{Kind: datatree.TxnRequest, Op: zkproto.OpCreateTTL,
		Request: &zkproto.CreateTTLRequest{Path: "/ttl", ACL: world, Flags: zkproto.CreateMode(5), TTL: 999}})
	dir := t.TempDir()
	res, err := Export(dir, dt.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	back, err := Load(LoadOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if back.Tree.Digest() != res.Digest || back.DigestsChecked != 1 || back.Tree.Zxid != int64(dt.LastZxid()) {
		t.Errorf("read back: digest %d (checked %d), zxid %#x; wrote %d at %#x", back.Tree.Digest(), back.DigestsChecked, back.Tree.Zxid, res.Digest, dt.LastZxid())
	}
	if got := RecordsDigest(dt.Snapshot().Nodes()); got != res.Digest {
		t.Errorf("digest of the zkraft tree %d, export wrote %d", got, res.Digest)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "version-2", "currentEpoch")); err != nil || string(b) != "0" {
		t.Errorf("currentEpoch %q %v", b, err)
	}
	if _, err := Export(dir, dt.Snapshot()); err == nil {
		t.Error("export over an existing snapshot succeeded")
	}
}

// SessionPassword is java.util.Random's: the first bytes for seed 0 are known.
func TestSessionPassword(t *testing.T) {
	// new Random(0xB3415C00 ^ 0xB3415C00 = 0).nextBytes(new byte[16]): nextInt() of
	// new Random(0) is -1155484576 (0xBB20B460), taken low byte first.
	p := SessionPassword(0xB3415C00)
	if !bytes.Equal(p[:4], []byte{0x60, 0xB4, 0x20, 0xBB}) || len(p) != 16 {
		t.Errorf("password % x", p)
	}
}
