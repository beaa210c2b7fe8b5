package datatree

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

// txnGen makes a random but seeded stream of transactions, most of them valid
// against the tree they are generated from, some deliberately not.
type txnGen struct {
	r        *rand.Rand
	paths    []string
	sessions []zkproto.SessionID
	nextSess zkproto.SessionID
	time     int64
}

func newTxnGen(seed uint64) *txnGen {
	return &txnGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), paths: []string{"/"}, nextSess: 1, time: testTime}
}

func (g *txnGen) path() string { return g.paths[g.r.IntN(len(g.paths))] }

func (g *txnGen) child() string {
	p := g.path()
	if p == "/" {
		p = ""
	}
	return fmt.Sprintf("%s/n%d", p, g.r.IntN(8))
}

func (g *txnGen) auth() []zkproto.Id {
	switch g.r.IntN(4) {
	case 0:
		return []zkproto.Id{{Scheme: "digest", ID: DigestID("u", "p")}, {Scheme: "ip", ID: "10.0.0.1"}}
	case 1:
		return []zkproto.Id{{Scheme: "ip", ID: "10.0.0.2"}}
	}
	return nil
}

func (g *txnGen) acl() []zkproto.ACL {
	switch g.r.IntN(6) {
	case 0:
		return []zkproto.ACL{{Perms: zkproto.PermRead | zkproto.PermCreate, ID: zkproto.Id{Scheme: "world", ID: "anyone"}}}
	case 1:
		return []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "auth", ID: ""}}}
	case 2:
		return []zkproto.ACL{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "ip", ID: "10.0.0.0/8"}}}
	}
	return worldAll
}

func (g *txnGen) op() (zkproto.OpCode, zkproto.Record) {
	data := make([]byte, g.r.IntN(20))
	for i := range data {
		data[i] = byte(g.r.Uint32())
	}
	v := int32(g.r.IntN(3)) - 1
	switch k := g.r.IntN(10); {
	case k < 4:
		mode := zkproto.CreateMode(g.r.IntN(5))
		switch g.r.IntN(5) {
		case 0:
			return zkproto.OpCreateTTL, &zkproto.CreateTTLRequest{Path: g.child(), Data: data, ACL: g.acl(),
				Flags: zkproto.ModePersistentWithTTL + zkproto.CreateMode(g.r.IntN(2)), TTL: int64(g.r.IntN(3000))}
		case 1:
			return zkproto.OpCreateContainer, &zkproto.CreateRequest{Path: g.child(), Data: data, ACL: g.acl(), Flags: zkproto.ModeContainer}
		case 2:
			return zkproto.OpCreate, &zkproto.CreateRequest{Path: g.child(), Data: data, ACL: g.acl(), Flags: mode}
		}
		return zkproto.OpCreate2, &zkproto.CreateRequest{Path: g.child(), Data: data, ACL: g.acl(), Flags: mode}
	case k < 6:
		return zkproto.OpDelete, &zkproto.DeleteRequest{Path: g.path(), Version: v}
	case k < 8:
		return zkproto.OpSetData, &zkproto.SetDataRequest{Path: g.path(), Data: data, Version: v}
	case k < 9:
		return zkproto.OpCheck, &zkproto.CheckVersionRequest{Path: g.path(), Version: v}
	}
	return zkproto.OpSetACL, &zkproto.SetACLRequest{Path: g.path(), ACL: g.acl(), Version: v}
}

func (g *txnGen) next() *Txn {
	g.time += int64(g.r.IntN(200))
	var sess zkproto.SessionID
	if len(g.sessions) > 0 {
		sess = g.sessions[g.r.IntN(len(g.sessions))]
	}
	switch k := g.r.IntN(100); {
	case k < 3:
		g.sessions = append(g.sessions, g.nextSess)
		g.nextSess++
		return &Txn{Kind: TxnCreateSession, Session: g.nextSess - 1, Time: g.time, Timeout: int32(g.r.IntN(40000)), Password: []byte{byte(k)}}
	case k < 5:
		if len(g.sessions) > 0 {
			i := g.r.IntN(len(g.sessions))
			s := g.sessions[i]
			g.sessions = slices.Delete(g.sessions, i, i+1)
			return &Txn{Kind: TxnCloseSession, Session: s, Time: g.time}
		}
	case k < 7:
		return &Txn{Kind: TxnRequest, Session: 0, Time: g.time, Op: zkproto.OpDeleteContainer,
			Request: &zkproto.DeleteRequest{Path: g.path(), Version: -1}}
	case k < 20:
		var ops []zkproto.MultiOp
		for range 1 + g.r.IntN(4) {
			op, req := g.op()
			if op == zkproto.OpSetACL {
				op, req = zkproto.OpCheck, &zkproto.CheckVersionRequest{Path: g.path(), Version: -1}
			}
			ops = append(ops, zkproto.MultiOp{Header: zkproto.MultiHeader{Type: op}, Request: req})
		}
		return &Txn{Kind: TxnRequest, Session: sess, Time: g.time, Op: zkproto.OpMulti, Auth: g.auth(),
			Request: &zkproto.MultiRequest{Ops: ops}}
	}
	op, req := g.op()
	return &Txn{Kind: TxnRequest, Session: sess, Time: g.time, Op: op, Request: req, Auth: g.auth()}
}

// learn records the paths a result created so later txns can use them.
func (g *txnGen) learn(res Result) {
	for _, e := range res.Events {
		if e.Type == zkproto.EventNodeCreated {
			g.paths = append(g.paths, e.Path)
		}
	}
}

func TestDeterminism(t *testing.T) {
	const n = 6000
	g := newTxnGen(42)
	a, b := New(), New()
	var c *Tree // restored from a snapshot of a halfway through
	ok := 0
	for i := range n {
		txn := g.next()
		ra := a.Apply(txn)
		rb := b.Apply(txn)
		if !reflect.DeepEqual(ra, rb) {
			t.Fatalf("txn %d: results differ:\n%+v\n%+v", i, ra, rb)
		}
		if c != nil {
			if rc := c.Apply(txn); !reflect.DeepEqual(ra, rc) {
				t.Fatalf("txn %d: restored tree differs:\n%+v\n%+v", i, ra, rc)
			}
		}
		if ra.Err == 0 {
			ok++
		}
		g.learn(ra)
		if i%1500 == 1499 {
			sa, sb := snapBytes(t, a), snapBytes(t, b)
			if !bytes.Equal(sa, sb) {
				t.Fatalf("txn %d: snapshots differ", i)
			}
			r, err := Restore(bytes.NewReader(sa))
			if err != nil {
				t.Fatal(err)
			}
			if sr := snapBytes(t, r); !bytes.Equal(sa, sr) {
				t.Fatalf("txn %d: snapshot → restore → snapshot differs", i)
			}
			sameReads(t, a, r)
			if c == nil {
				c = r
			}
		}
	}
	if ok < n/4 || a.NodeCount() < 50 {
		t.Fatalf("only %d of %d txns succeeded, %d nodes: the generator is too weak", ok, n, a.NodeCount())
	}
	t.Logf("%d/%d txns succeeded; %d nodes, %d ephemerals, %d sessions", ok, n, a.NodeCount(), a.EphemeralCount(), len(a.Sessions()))
}

// sameReads compares everything the read API shows of two trees.
func sameReads(t *testing.T, a, b *Tree) {
	t.Helper()
	if a.NodeCount() != b.NodeCount() || a.ApproximateDataSize() != b.ApproximateDataSize() ||
		a.EphemeralCount() != b.EphemeralCount() || a.LastZxid() != b.LastZxid() {
		t.Fatalf("counters differ: %d/%d %d/%d %d/%d", a.NodeCount(), b.NodeCount(),
			a.ApproximateDataSize(), b.ApproximateDataSize(), a.EphemeralCount(), b.EphemeralCount())
	}
	if !reflect.DeepEqual(a.Sessions(), b.Sessions()) {
		t.Fatal("sessions differ")
	}
	for _, s := range a.Sessions() {
		if !slices.Equal(a.Ephemerals(s.ID, ""), b.Ephemerals(s.ID, "")) {
			t.Fatalf("ephemerals of %d differ", s.ID)
		}
	}
	for now := int64(testTime); now < testTime+2_000_000; now += 100_000 {
		if !slices.Equal(a.ReapCandidates(now), b.ReapCandidates(now)) {
			t.Fatalf("reap candidates differ at %d", now)
		}
	}
	var walk func(p string)
	walk = func(p string) {
		da, sa, _ := a.GetData(p, superAuth)
		db, sb, _ := b.GetData(p, superAuth)
		ka, _, _ := a.Children(p, superAuth)
		kb, _, _ := b.Children(p, superAuth)
		aa, _, _ := a.GetACL(p, superAuth)
		ab, _, _ := b.GetACL(p, superAuth)
		if !bytes.Equal(da, db) || sa != sb || !slices.Equal(ka, kb) || !reflect.DeepEqual(aa, ab) {
			t.Fatalf("%s differs: %+v vs %+v, %v vs %v", p, sa, sb, ka, kb)
		}
		for _, k := range ka {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
}

// TestSnapshotIsolation writes a snapshot while the tree keeps changing (run it
// with -race) and checks it shows the tree as it was.
func TestSnapshotIsolation(t *testing.T) {
	tr := New()
	mustApply(t, tr, sessionTxn(1))
	for i := range 3000 {
		mustApply(t, tr, createTxn(fmt.Sprintf("/n%d", i), "v", 0))
	}
	want := snapBytes(t, tr)
	snap := tr.Snapshot()
	done := make(chan []byte)
	go func() {
		var buf bytes.Buffer
		if _, err := snap.WriteTo(&buf); err != nil {
			t.Error(err)
		}
		done <- buf.Bytes()
	}()
	for i := range 3000 {
		switch i % 4 {
		case 0:
			mustApply(t, tr, setDataTxn(fmt.Sprintf("/n%d", i), "changed", -1))
		case 1:
			mustApply(t, tr, deleteTxn(fmt.Sprintf("/n%d", i), -1))
		case 2:
			mustApply(t, tr, createTxn(fmt.Sprintf("/n%d/kid", i), "", zkproto.ModeEphemeral))
		case 3:
			mustApply(t, tr, reqTxn(zkproto.OpSetACL, &zkproto.SetACLRequest{Path: fmt.Sprintf("/n%d", i), ACL: readOnlyACL, Version: -1}))
		}
	}
	got := <-done
	if !bytes.Equal(got, want) {
		t.Fatal("snapshot changed under concurrent writes")
	}
	var again bytes.Buffer
	if _, err := snap.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), want) {
		t.Fatal("second WriteTo differs")
	}
	if snap.Zxid() != 3001 {
		t.Errorf("snapshot zxid %d", snap.Zxid())
	}
	r, err := Restore(bytes.NewReader(want))
	if err != nil || r.NodeCount() != 3004 || r.LastZxid() != 3001 {
		t.Fatalf("restore: %v %d %d", err, r.NodeCount(), r.LastZxid())
	}
}

func TestCorruptSnapshot(t *testing.T) {
	tr := New()
	mustApply(t, tr, sessionTxn(5))
	mustApply(t, tr, createTxn("/a", "data", 0))
	txn := createTxn("/a/e", "x", zkproto.ModeEphemeral)
	txn.Session = 5
	mustApply(t, tr, txn)
	for _, version := range []uint32{2, snapVersion} {
		var buf bytes.Buffer
		snap := tr.Snapshot()
		if _, err := snap.writeTo(&buf, version); err != nil {
			t.Fatal(err)
		}
		snap.Release()
		good := buf.Bytes()
		if _, err := Restore(bytes.NewReader(good)); err != nil {
			t.Fatal(err)
		}
		check := func(name string, b []byte) {
			t.Helper()
			_, err := Restore(bytes.NewReader(b))
			if !errors.Is(err, ErrCorruptSnapshot) {
				t.Errorf("version %d: %s: err %v", version, name, err)
			}
		}
		for n := range len(good) {
			check(fmt.Sprintf("truncated to %d", n), good[:n])
		}
		for i := range len(good) {
			for _, bit := range []byte{0x01, 0x80} {
				b := bytes.Clone(good)
				b[i] ^= bit
				check(fmt.Sprintf("bit flip at %d", i), b)
			}
		}
		check("trailing byte", append(bytes.Clone(good), 0))
		check("empty", nil)
		// A huge length prefix must fail on truncation, not allocate it.
		head := len(snapMagic) + 4 + 8 + 4 // magic, version, zxid, session count
		if version >= 3 {
			head += 8 // the digest
		}
		huge := bytes.Clone(good[:head])
		huge = append(huge, 0xff, 0xff, 0xff, 0x7f)
		check("huge", huge)
		if _, err := Restore(io.LimitReader(bytes.NewReader(good), 10)); err == nil {
			t.Error("limited reader accepted")
		}
	}
}

// TestRestoreTakesTheStoredDigest: a version-3 snapshot carries the tree's digest
// (covered by its CRC), and Restore takes it rather than hashing every node again;
// a version-2 one has none, and Restore computes it.
func TestRestoreTakesTheStoredDigest(t *testing.T) {
	g := newTxnGen(11)
	tr := New()
	for range 2000 {
		g.learn(tr.Apply(g.next()))
	}
	good := snapBytes(t, tr)
	at := len(snapMagic) + 4 + 8 // magic, version, zxid
	if got := binary.BigEndian.Uint64(good[at:]); got != tr.Digest() {
		t.Fatalf("stored digest %x, tree's %x", got, tr.Digest())
	}
	// The same snapshot with another digest and a CRC to match restores with it:
	// Restore did not hash the nodes.
	b := bytes.Clone(good)
	binary.BigEndian.PutUint64(b[at:], tr.Digest()+1)
	binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
	r, err := Restore(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Digest() != tr.Digest()+1 || recomputeDigest(r) != tr.Digest() {
		t.Fatalf("digest %x, recomputed %x, tree's %x", r.Digest(), recomputeDigest(r), tr.Digest())
	}
}

// TestCorruptParentPlace: in version 3 a node names its parent by place in the list,
// and Restore checks that place against the path, even under a matching CRC.
func TestCorruptParentPlace(t *testing.T) {
	tr := New()
	mustApply(t, tr, sessionTxn(5))
	for _, p := range []string{"/a", "/b", "/b/c"} {
		mustApply(t, tr, createTxn(p, "", 0))
	}
	txn := createTxn("/e", "", zkproto.ModeEphemeral)
	txn.Session = 5
	mustApply(t, tr, txn)
	good := snapBytes(t, tr)
	// The list: /, /a, /b, /b/c, /e, /zookeeper, ... (by path).
	at := bytes.Index(good, []byte("/b/c")) + len("/b/c")
	if got := binary.BigEndian.Uint32(good[at:]); got != 2 {
		t.Fatalf("/b/c's parent at %d, want 2", got)
	}
	for place, want := range map[uint32]string{
		1: "the parent given is /a", 3: "not before", 4: "not before", 1 << 31: "not before",
	} {
		b := bytes.Clone(good)
		binary.BigEndian.PutUint32(b[at:], place)
		binary.BigEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], castagnoli))
		_, err := Restore(bytes.NewReader(b))
		if !errors.Is(err, ErrCorruptSnapshot) || !strings.Contains(err.Error(), want) {
			t.Errorf("parent place %d: err %v, want %q", place, err, want)
		}
	}
}

// TestSnapshotOrder: a snapshot lists its nodes in path order, which its walk of
// the tree gets without sorting paths. The names here are built from characters
// on both sides of '/', so that siblings extend each other ("a", "a-", "a-.")
// and subtrees interleave in path order; deletes leave holes and reused ids.
func TestSnapshotOrder(t *testing.T) {
	alphabet := []string{"a", "b", "-", ".", "0", "~", " "}
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 7))
		tr := New()
		paths := []string{"/"}
		for range 300 {
			switch parent := paths[rng.IntN(len(paths))]; {
			case rng.IntN(6) == 0 && len(paths) > 1:
				k := 1 + rng.IntN(len(paths)-1)
				if tr.Apply(deleteTxn(paths[k], -1)).Err == 0 {
					paths = slices.Delete(paths, k, k+1)
				}
			default:
				var name strings.Builder
				for range 1 + rng.IntN(3) {
					name.WriteString(alphabet[rng.IntN(len(alphabet))])
				}
				if name.String() == "." {
					continue
				}
				p := strings.TrimSuffix(parent, "/") + "/" + name.String()
				if tr.Apply(createTxn(p, "", 0)).Err == 0 {
					paths = append(paths, p)
				}
			}
		}
		snap := tr.Snapshot()
		var got []string
		for r := range snap.Nodes() {
			got = append(got, r.Path)
		}
		if !slices.IsSorted(got) {
			t.Fatalf("seed %d: the snapshot's nodes are not in path order: %q", seed, got)
		}
		want := slices.Clone(paths)
		want = append(want, "/zookeeper", "/zookeeper/config", "/zookeeper/quota")
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("seed %d: the snapshot lists %d nodes, the tree has %d:\n%q\n%q", seed, len(got), len(want), got, want)
		}
		if _, err := Restore(bytes.NewReader(snapBytes(t, tr))); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		snap.Release()
	}
}

// A snapshot whose walk from the root misses a node is not written: the node would
// be lost. (A record cut from its parent, which a healthy tree never has.)
func TestSnapshotRefusesUnreachableNodes(t *testing.T) {
	tr := New()
	mustApply(t, tr, createTxn("/a", "", 0))
	mustApply(t, tr, createTxn("/a/b", "", 0))
	snap := tr.Snapshot()
	defer snap.Release()
	id := tr.lookup("/a/b")
	r := *snap.rec(id)
	r.parent = 0
	if snap.over == nil {
		snap.over = map[nodeID]rec{}
	}
	snap.over[id] = r
	if _, err := snap.WriteTo(io.Discard); err == nil || !strings.Contains(err.Error(), "reachable from the root") {
		t.Fatalf("a snapshot with a node cut from the tree: %v", err)
	}
}
