package datatree

import (
	"slices"
	"strconv"
	"strings"

	"github.com/zkraft/zkraft/zkproto"
)

// Quotas, as ZooKeeper 3.8 keeps them (DataTree, Quotas, StatsTrack). A client
// (zkCli.sh setquota) creates /zookeeper/quota<path>/zookeeper_limits holding the
// limits ("count=10,bytes=-1=;byteHardLimit=-1;countHardLimit=20") and then
// .../zookeeper_stats. The tree then keeps the stats node's data current: creating it
// counts the subtree at <path> (the node itself included); every later create, delete
// and setData under <path> adds to the count and bytes of the deepest quota above it,
// rewriting the stats node's data in place (its version and mzxid stay). All of it is
// replicated state, applied identically on every member.
//
// A write that would pass a limit is reported in Result.QuotaExceeded; with
// Txn.EnforceQuota (the leader's enforceQuota) one that would pass a hard limit fails
// with QUOTAEXCEEDED, checked where ZooKeeper's PrepRequestProcessor checks it:
// create after NOCHILDRENFOREPHEMERALS, setData after NOAUTH and before BADVERSION.
// Like ZooKeeper, every op of a multi is checked against the stats as they were
// before the multi.
const (
	quotaLimitNode = "zookeeper_limits"
	quotaStatNode  = "zookeeper_stats"
)

// quotaTarget is the quota'd path a limits node at path stands for, or "".
func quotaTarget(path string) string {
	if zkproto.BaseName(path) != quotaLimitNode {
		return ""
	}
	parent := zkproto.ParentPath(path)
	if !strings.HasPrefix(parent, quotaPath) || len(parent) <= len(quotaPath) {
		return ""
	}
	return parent[len(quotaPath):] // Quotas.trimQuotaPath
}

// indexQuota keeps the quota index current as limits nodes come and go (rawInsert,
// rawRemove: so a multi's rollback and Restore keep it too).
func (t *Tree) indexQuota(path string, added bool) {
	q := quotaTarget(path)
	if q == "" {
		return
	}
	if added {
		if t.quotas == nil {
			t.quotas = map[string]struct{}{}
		}
		t.quotas[q] = struct{}{}
	} else {
		delete(t.quotas, q)
	}
}

// maxQuotaPrefix is getMaxPrefixWithQuota: the deepest quota'd path at or above
// path, or "".
func (t *Tree) maxQuotaPrefix(path string) string {
	if len(t.quotas) == 0 {
		return ""
	}
	for p := path; p != "/" && p != ""; p = zkproto.ParentPath(p) {
		if _, ok := t.quotas[p]; ok {
			return p
		}
	}
	return ""
}

// Quotas lists the quota'd paths.
func (t *Tree) Quotas() []string {
	out := make([]string, 0, len(t.quotas))
	for q := range t.quotas {
		out = append(out, q)
	}
	slices.Sort(out)
	return out
}

// StatsTrack is ZooKeeper's StatsTrack: key=value pairs separated by ',' or ';'.
type StatsTrack map[string]int64

// ParseStatsTrack reads a StatsTrack string; ok is false where ZooKeeper's parser
// would throw (a pair without '=', a value that is not a long).
func ParseStatsTrack(b []byte) (StatsTrack, bool) {
	st := StatsTrack{}
	s := string(b)
	if s == "" {
		return st, true
	}
	for _, pair := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		kv := strings.Split(pair, "=")
		for len(kv) > 0 && kv[len(kv)-1] == "" {
			kv = kv[:len(kv)-1] // Java's split drops trailing empty strings ("bytes=5=")
		}
		if len(kv) < 2 {
			return nil, false
		}
		v := int64(-1)
		if kv[1] != "" {
			n, err := strconv.ParseInt(kv[1], 10, 64)
			if err != nil {
				return nil, false
			}
			v = n
		}
		st[kv[0]] = v
	}
	return st, true
}

func (st StatsTrack) Get(k string) int64 {
	if v, ok := st[k]; ok {
		return v
	}
	return -1
}

// String is StatsTrack.toString: count and bytes first, then "=" and the other keys
// sorted, each after a ';'.
func (st StatsTrack) String() string {
	var b strings.Builder
	b.WriteString("count=" + strconv.FormatInt(st.Get("count"), 10) + ",bytes=" + strconv.FormatInt(st.Get("bytes"), 10))
	var keys []string
	for k := range st {
		if k != "count" && k != "bytes" {
			keys = append(keys, k)
		}
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		b.WriteString("=")
		for _, k := range keys {
			b.WriteString(";" + k + "=" + strconv.FormatInt(st[k], 10))
		}
	}
	return b.String()
}

// rewriteStats replaces the data of the stats node of quota q, keeping its stat.
func (t *Tree) rewriteStats(q string, fn func(StatsTrack) StatsTrack) {
	p := quotaPath + q + "/" + quotaStatNode
	n, ok := t.get(p)
	if !ok {
		return // "Missing node for stat" in ZooKeeper's log
	}
	st, ok := ParseStatsTrack(n.data)
	if !ok {
		return
	}
	if t.logging && t.preMulti != nil {
		if _, seen := t.preMulti[p]; !seen {
			t.preMulti[p] = n.data
		}
	}
	nn := n
	nn.data = []byte(fn(st).String())
	t.set(p, n, nn)
}

// updateQuotaStat is DataTree.updateQuotaStat.
func (t *Tree) updateQuotaStat(q string, bytesDiff, countDiff int64) {
	t.rewriteStats(q, func(st StatsTrack) StatsTrack {
		st["count"] = st.Get("count") + countDiff
		st["bytes"] = st.Get("bytes") + bytesDiff
		return st
	})
}

// quotaOnCreate follows a create of path with data: a new stats node gets its
// subtree's counts (updateQuotaForPath), and the quota above path counts the node.
func (t *Tree) quotaOnCreate(path string, data []byte) {
	if zkproto.BaseName(path) == quotaStatNode {
		parent := zkproto.ParentPath(path)
		if strings.HasPrefix(parent, quotaPath) && len(parent) > len(quotaPath) {
			q := parent[len(quotaPath):]
			var count, bytes int64
			t.walk(q, func(n *node) { count++; bytes += int64(len(n.data)) })
			t.rewriteStats(q, func(StatsTrack) StatsTrack { return StatsTrack{"count": count, "bytes": bytes} })
		}
	}
	if q := t.maxQuotaPrefix(path); q != "" {
		t.updateQuotaStat(q, int64(len(data)), 1)
	}
}

// walk visits the node at path and its descendants, in no particular order.
func (t *Tree) walk(path string, fn func(*node)) {
	if id := t.lookup(path); id != 0 {
		t.walkID(id, fn)
	}
}

func (t *Tree) walkID(id nodeID, fn func(*node)) {
	n := t.view(id)
	fn(&n)
	for _, k := range t.kidsOf(t.rec(id)) {
		t.walkID(k, fn)
	}
}

// QuotaExceeded is a write that passed (or, refused, would have passed) a limit of
// the quota at Path: ZooKeeper's "Quota exceeded: <path> [current count=11,
// softCountLimit=10]" log line.
type QuotaExceeded struct {
	Path    string
	What    string // "count" or "bytes"
	Current int64  // the count or bytes with the write
	Limit   int64
	Hard    bool // refused, when the txn enforces quotas
}

// String is ZooKeeper's log message.
func (q QuotaExceeded) String() string {
	kind, lim := "soft", "CountLimit"
	if q.Hard {
		kind = "hard"
	}
	if q.What == "bytes" {
		lim = "ByteLimit"
	}
	return "Quota exceeded: " + q.Path + " [current " + q.What + "=" + strconv.FormatInt(q.Current, 10) + ", " + kind + lim + "=" + strconv.FormatInt(q.Limit, 10) + "]"
}

// checkQuota is ZooKeeperServer.checkQuota for a write of path adding countDiff
// nodes and bytesDiff bytes: it notes each limit passed and answers QUOTAEXCEEDED
// for a hard one when txn enforces quotas.
func (t *Tree) checkQuota(txn *Txn, path string, countDiff, bytesDiff int64) zkproto.ErrCode {
	q := t.maxQuotaPrefix(path)
	if q == "" {
		return zkproto.ErrOK
	}
	ln, ok := t.get(quotaPath + q + "/" + quotaLimitNode)
	if !ok {
		return zkproto.ErrOK
	}
	limits, ok := ParseStatsTrack(ln.data)
	if !ok {
		return zkproto.ErrOK
	}
	checkCount := countDiff != 0 && (limits.Get("count") > -1 || limits.Get("countHardLimit") > -1)
	checkBytes := bytesDiff != 0 && (limits.Get("bytes") > -1 || limits.Get("byteHardLimit") > -1)
	if !checkCount && !checkBytes {
		return zkproto.ErrOK
	}
	sp := quotaPath + q + "/" + quotaStatNode
	sdata, seen := t.preMulti[sp]
	if !seen {
		sn, ok := t.get(sp)
		if !ok {
			return zkproto.ErrOK
		}
		sdata = sn.data
	}
	cur, ok := ParseStatsTrack(sdata)
	if !ok {
		return zkproto.ErrOK
	}
	for _, c := range []struct {
		on         bool
		what       string
		diff       int64
		soft, hard string
	}{
		{checkCount, "count", countDiff, "count", "countHardLimit"},
		{checkBytes, "bytes", bytesDiff, "bytes", "byteHardLimit"},
	} {
		if !c.on {
			continue
		}
		now := cur.Get(c.what) + c.diff
		hard := limits.Get(c.hard) > -1
		limit := limits.Get(c.soft)
		if hard {
			limit = limits.Get(c.hard)
		}
		if now > limit {
			t.quotaNotes = append(t.quotaNotes, QuotaExceeded{Path: q, What: c.what, Current: now, Limit: limit, Hard: hard})
			if hard && txn.EnforceQuota {
				return zkproto.ErrQuotaExceeded
			}
		}
	}
	return zkproto.ErrOK
}
