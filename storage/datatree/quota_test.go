package datatree

import (
	"slices"
	"testing"

	"github.com/zkraft/zkraft/zkproto"
)

func TestStatsTrack(t *testing.T) {
	for _, tc := range []struct{ in, out string }{
		{"count=10,bytes=-1", "count=10,bytes=-1"},
		{"count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=20", "count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=20"},
		{"countHardLimit=5", "count=-1,bytes=-1=;countHardLimit=5"},
		{"", "count=-1,bytes=-1"},
		{"count=3;bytes=7", "count=3,bytes=7"},
	} {
		st, ok := ParseStatsTrack([]byte(tc.in))
		if !ok || st.String() != tc.out {
			t.Errorf("%q → %q (%v), want %q", tc.in, st.String(), ok, tc.out)
		}
	}
	for _, bad := range []string{"count", "count=x", "count="} {
		if _, ok := ParseStatsTrack([]byte(bad)); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

func data(t *testing.T, tr *Tree, path string) string {
	t.Helper()
	b, _, code := tr.GetData(path, superAuth)
	if code != zkproto.ErrOK {
		t.Fatalf("get %s: %v", path, code)
	}
	return string(b)
}

// setQuota creates the nodes zkCli.sh's setquota creates.
func setQuota(t *testing.T, tr *Tree, path, limits string) {
	t.Helper()
	qp := quotaPath
	for _, c := range splitPath(path) {
		qp += "/" + c
		if _, ok := tr.Exists(qp); !ok {
			mustApply(t, tr, createTxn(qp, "", 0))
		}
	}
	mustApply(t, tr, createTxn(qp+"/"+quotaLimitNode, limits, 0))
	mustApply(t, tr, createTxn(qp+"/"+quotaStatNode, "count=0,bytes=0", 0))
}

func splitPath(p string) []string {
	var out []string
	for p != "/" {
		out = append([]string{zkproto.BaseName(p)}, out...)
		p = zkproto.ParentPath(p)
	}
	return out
}

// TestQuotaStats: the stats node counts the subtree when it is created, then follows
// creates, setData and deletes beneath the quota, in place (its version stays).
func TestQuotaStats(t *testing.T) {
	tr := New()
	mustApply(t, tr, sessionTxn(1))
	mustApply(t, tr, createTxn("/a", "12", 0))
	mustApply(t, tr, createTxn("/a/b", "xyz", 0))
	mustApply(t, tr, createTxn("/other", "zzzz", 0))
	setQuota(t, tr, "/a", "count=10,bytes=-1")
	const stats = "/zookeeper/quota/a/zookeeper_stats"
	if got := data(t, tr, stats); got != "count=2,bytes=5" {
		t.Fatalf("stats after setquota: %q", got)
	}
	version := stat(t, tr, stats).Version
	mustApply(t, tr, createTxn("/a/b/c", "abcdef", 0))
	mustApply(t, tr, createTxn("/a/e", "", zkproto.ModeEphemeral))
	mustApply(t, tr, setDataTxn("/a", "1", -1))
	mustApply(t, tr, createTxn("/other/x", "not counted", 0))
	if got := data(t, tr, stats); got != "count=4,bytes=10" {
		t.Fatalf("stats: %q", got)
	}
	mustApply(t, tr, deleteTxn("/a/b/c", -1))
	mustApply(t, tr, &Txn{Kind: TxnCloseSession, Session: 1})
	if got := data(t, tr, stats); got != "count=2,bytes=4" {
		t.Fatalf("stats after deletes: %q", got)
	}
	if st := stat(t, tr, stats); st.Version != version || st.DataLength != int32(len("count=2,bytes=4")) {
		t.Errorf("stats node stat %+v: version moved or length stale", st)
	}
	// A restored tree has the same quotas, and keeps counting.
	r := restore(t, tr)
	if !slices.Equal(r.Quotas(), []string{"/a"}) || r.Digest() != tr.Digest() {
		t.Fatalf("restored quotas %v, digest %x vs %x", r.Quotas(), r.Digest(), tr.Digest())
	}
	mustApply(t, r, createTxn("/a/z", "", 0))
	if got := data(t, r, stats); got != "count=3,bytes=4" {
		t.Errorf("restored tree: stats %q", got)
	}
	// delquota: the limits node goes, and counting stops.
	mustApply(t, tr, deleteTxn("/zookeeper/quota/a/zookeeper_limits", -1))
	mustApply(t, tr, createTxn("/a/w", "", 0))
	if got := data(t, tr, stats); got != "count=2,bytes=4" || len(tr.Quotas()) != 0 {
		t.Errorf("after the limits node went: stats %q, quotas %v", got, tr.Quotas())
	}
}

// TestQuotaEnforced: a hard limit refuses a write with QUOTAEXCEEDED when the txn
// enforces quotas, and only reports it otherwise; a soft limit is only reported.
func TestQuotaEnforced(t *testing.T) {
	tr := New()
	mustApply(t, tr, createTxn("/a", "", 0))
	setQuota(t, tr, "/a", "count=-1,bytes=-1=;byteHardLimit=8;countHardLimit=3")
	enforce := func(txn *Txn) *Txn { txn.EnforceQuota = true; return txn }
	mustApply(t, tr, enforce(createTxn("/a/b", "1234", 0))) // count 2, bytes 4
	mustApply(t, tr, enforce(createTxn("/a/c", "", 0)))     // count 3
	res := mustFail(t, tr, enforce(createTxn("/a/d", "", 0)), zkproto.ErrQuotaExceeded)
	want := QuotaExceeded{Path: "/a", What: "count", Current: 4, Limit: 3, Hard: true}
	if len(res.QuotaExceeded) != 1 || res.QuotaExceeded[0] != want {
		t.Errorf("notes %v, want %v", res.QuotaExceeded, want)
	}
	if got := want.String(); got != "Quota exceeded: /a [current count=4, hardCountLimit=3]" {
		t.Errorf("message %q", got)
	}
	mustFail(t, tr, enforce(setDataTxn("/a/b", "123456789", -1)), zkproto.ErrQuotaExceeded)
	// QUOTAEXCEEDED comes before BADVERSION, as in ZooKeeper's setData.
	mustFail(t, tr, enforce(setDataTxn("/a/b", "123456789", 42)), zkproto.ErrQuotaExceeded)
	// NODEEXISTS comes first on create.
	mustFail(t, tr, enforce(createTxn("/a/b", "", 0)), zkproto.ErrNodeExists)
	mustApply(t, tr, enforce(setDataTxn("/a/b", "12345678", -1))) // bytes 8: at the limit
	// Not enforced: applied, and reported.
	res = mustApply(t, tr, createTxn("/a/d", "", 0))
	if len(res.QuotaExceeded) != 1 || !res.QuotaExceeded[0].Hard {
		t.Errorf("unenforced: notes %v", res.QuotaExceeded)
	}
	// A soft limit only reports.
	mustApply(t, tr, setDataTxn("/zookeeper/quota/a/zookeeper_limits", "count=2,bytes=-1", -1))
	res = mustApply(t, tr, enforce(createTxn("/a/e", "", 0)))
	if want := (QuotaExceeded{Path: "/a", What: "count", Current: 5, Limit: 2}); len(res.QuotaExceeded) != 1 || res.QuotaExceeded[0] != want {
		t.Errorf("soft: notes %v, want %v", res.QuotaExceeded, want)
	}
}

// TestQuotaMulti: the ops of a multi are checked against the stats as they were
// before it (ZooKeeper checks at prepare time against the committed tree), the stats
// follow each op, and a failed multi leaves stats and the quota index as they were.
func TestQuotaMulti(t *testing.T) {
	tr := New()
	mustApply(t, tr, createTxn("/a", "", 0))
	setQuota(t, tr, "/a", "count=-1,bytes=-1=;countHardLimit=2")
	multi := func(ops ...zkproto.MultiOp) *Txn {
		txn := reqTxn(zkproto.OpMulti, &zkproto.MultiRequest{Ops: ops})
		txn.EnforceQuota = true
		return txn
	}
	create := func(p string) zkproto.MultiOp {
		return zkproto.MultiOp{Header: zkproto.MultiHeader{Type: zkproto.OpCreate, Done: false, Err: -1}, Request: &zkproto.CreateRequest{Path: p, ACL: worldAll}}
	}
	mustApply(t, tr, multi(create("/a/x"), create("/a/y"))) // each: 1+1 <= 2
	if got := data(t, tr, "/zookeeper/quota/a/zookeeper_stats"); got != "count=3,bytes=0" {
		t.Fatalf("stats after the multi: %q", got)
	}
	mustFail(t, tr, multi(create("/a/z")), zkproto.ErrQuotaExceeded)
	// A multi that sets a quota on /b and then fails leaves no quota on /b.
	mustApply(t, tr, createTxn("/b", "", 0))
	mustApply(t, tr, createTxn("/zookeeper/quota/b", "", 0))
	mustFail(t, tr, multi(create("/zookeeper/quota/b/zookeeper_limits"), create("/missing/x")), zkproto.ErrNoNode)
	if !slices.Equal(tr.Quotas(), []string{"/a"}) {
		t.Errorf("quotas after a failed multi: %v", tr.Quotas())
	}
}
