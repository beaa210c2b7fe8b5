package datatree

import (
	"bytes"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zkraft/zkraft/zkproto"
)

// memTreeNodes is the size of BenchmarkTreeMemory's tree: the target is
// stated for 1,000,000 znodes of 100 B.
const memTreeNodes = 1_000_000

// buildMemTree applies, through Apply, the tree of BenchmarkTreeMemory: /app with
// 1,000 parents /app/<i/1000> and n leaves /app/<i/1000>/node-<i> of 100 B each;
// every 100th leaf is an ephemeral of one of 8 sessions and every 10th is under one
// of two digest ACLs, the rest open. It returns the leaves' paths and the longest
// time one create took.
func buildMemTree(tb testing.TB, tr *Tree, n int) (paths []string, slowest time.Duration) {
	tb.Helper()
	for s := zkproto.SessionID(1); s <= 8; s++ {
		mustApply(tb, tr, sessionTxn(s))
	}
	mustApply(tb, tr, createTxn("/app", "", 0))
	for p := 0; p*1000 < n; p++ {
		mustApply(tb, tr, createTxn("/app/"+strconv.Itoa(p), "", 0))
	}
	acls := [][]zkproto.ACL{
		worldAll,
		{{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "digest", ID: DigestID("app", "secret")}}},
		{{Perms: zkproto.PermRead, ID: zkproto.Id{Scheme: "world", ID: "anyone"}},
			{Perms: zkproto.PermAll, ID: zkproto.Id{Scheme: "digest", ID: DigestID("ops", "secret")}}},
	}
	data := bytes.Repeat([]byte("d"), 100)
	paths = make([]string, n)
	req := &zkproto.CreateRequest{}
	txn := &Txn{Kind: TxnRequest, Time: testTime, Op: zkproto.OpCreate, Request: req}
	for i := range paths {
		paths[i] = "/app/" + strconv.Itoa(i/1000) + "/node-" + strconv.Itoa(i)
		// Each create gets its own data and ACL slices, as requests decoded from the
		// wire do.
		*req = zkproto.CreateRequest{Path: paths[i], Data: bytes.Clone(data), ACL: append([]zkproto.ACL(nil), acls[0]...)}
		if i%10 == 0 {
			req.ACL = append([]zkproto.ACL(nil), acls[1+i/10%2]...)
		}
		txn.Session = 0
		if i%100 == 0 {
			req.Flags = zkproto.ModeEphemeral
			txn.Session = zkproto.SessionID(1 + i/100%8)
		}
		t0 := time.Now()
		if res := tr.Apply(txn); res.Err != zkproto.ErrOK {
			tb.Fatalf("create %s: %v", paths[i], res.Err)
		}
		slowest = max(slowest, time.Since(t0))
	}
	return paths, slowest
}

// procStatus returns a "VmRSS"-style field of /proc/self/status in MiB (0 where
// there is none).
func procStatus(field string) float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// BenchmarkTreeMemory builds a tree of 1,000,000 znodes of 100 B through Apply and
// reports the heap it holds after a GC (heap-B/znode, heap-MiB), the time per create
// (ns/create) and the longest one (max-create-ms), the GC pauses while building; then it takes a Snapshot,
// writes it while 100,000 setData go on (each into another znode, the copy-on-write
// worst case), and reports the heap held while that snapshot is alive
// (snap-heap-MiB), how long the write took (snap-write-ms) and how long the first
// write after its release took (fold-ms: it folds the copies back). rss-MiB is the
// process's resident size after the build (before a forced GC), peak-rss-MiB its
// peak over the whole run, gc-ms the duration of one full GC with the tree live.
// make bench runs it once per count.
func BenchmarkTreeMemory(b *testing.B) {
	for b.Loop() {
		base := heapInuse()
		tr := New()
		start := time.Now()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		paths, slowest := buildMemTree(b, tr, memTreeNodes)
		elapsed := time.Since(start)
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		pathsSize := uint64(len(paths)) * 16
		for _, p := range paths {
			pathsSize += uint64(len(p)+7) &^ 7
		}
		heap := heapInuse() - base - pathsSize // the paths slice is the benchmark's, not the tree's
		b.ReportMetric(float64(heap)/float64(tr.NodeCount()), "heap-B/znode")
		b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
		b.ReportMetric(float64(elapsed.Nanoseconds())/float64(memTreeNodes), "ns/create")
		b.ReportMetric(float64(after.PauseTotalNs-before.PauseTotalNs)/1e6, "gc-pause-ms")
		b.ReportMetric(float64(slowest.Microseconds())/1000, "max-create-ms")
		b.ReportMetric(procStatus("VmRSS"), "rss-MiB")
		gcStart := time.Now()
		runtime.GC()
		b.ReportMetric(float64(time.Since(gcStart).Microseconds())/1000, "gc-ms")

		snap := tr.Snapshot()
		done := make(chan error, 1)
		wstart := time.Now()
		var wtime time.Duration
		go func() {
			_, err := snap.WriteTo(io.Discard)
			wtime = time.Since(wstart)
			done <- err
		}()
		// The server holds its lock for Apply; WriteTo needs none.
		set := &zkproto.SetDataRequest{Version: -1, Data: bytes.Repeat([]byte("e"), 100)}
		stxn := &Txn{Kind: TxnRequest, Time: testTime, Op: zkproto.OpSetData, Request: set, Auth: superAuth}
		for i := 0; i < 100_000; i++ {
			set.Path = paths[(i*7919)%len(paths)]
			set.Data = bytes.Clone(set.Data)
			if res := tr.Apply(stxn); res.Err != zkproto.ErrOK {
				b.Fatalf("setData %s: %v", set.Path, res.Err)
			}
		}
		held := heapInuse() - base - pathsSize
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(held)/(1<<20), "snap-heap-MiB")
		b.ReportMetric(float64(wtime.Milliseconds()), "snap-write-ms")
		b.ReportMetric(procStatus("VmHWM"), "peak-rss-MiB")
		// The first write after the release folds the snapshot's copies back.
		snap.Release()
		set.Path = paths[0]
		fstart := time.Now()
		if res := tr.Apply(stxn); res.Err != zkproto.ErrOK {
			b.Fatal(res.Err)
		}
		b.ReportMetric(float64(time.Since(fstart).Microseconds())/1000, "fold-ms")
		runtime.KeepAlive(tr)
	}
}
