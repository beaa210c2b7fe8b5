package raftstore

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// BenchmarkOpen opens a log of 200,000 entries of ~300 bytes (about nine 8 MiB
// segments) with a snapshot 20,000 entries before its end: the start of a member,
// dominated by verify's read of every entry. The files are in the page cache.
func BenchmarkOpen(b *testing.B) {
	const n, trailing = 200_000, 20_000
	dir := b.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]byte, 300)
	logs := make([]*raft.Log, 0, 512)
	for i := uint64(1); i <= n; i++ {
		d := make([]byte, len(data)-int(i%32))
		for k := range d {
			d[k] = byte('a' + rng.IntN(26))
		}
		logs = append(logs, &raft.Log{Index: i, Term: 1 + i/50_000, Type: raft.LogCommand, Data: d, AppendedAt: time.Now()})
		if len(logs) == cap(logs) || i == n {
			if err := s.Log.StoreLogs(logs); err != nil {
				b.Fatal(err)
			}
			logs = logs[:0]
		}
	}
	if err := s.Stable.SetUint64([]byte("CurrentTerm"), 1+n/50_000); err != nil {
		b.Fatal(err)
	}
	sink, err := s.Snapshot.Create(raft.SnapshotVersionMax, n-trailing, 1+n/50_000, testConf, 1, testTrans)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sink.Write([]byte("ZKRTREE\x00 the tree's own bytes")); err != nil {
		b.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		b.Fatal(err)
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		s, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if got := s.Log.(*checkedStore).cache.len(); got != trailing {
			b.Fatalf("%d entries cached, want %d", got, trailing)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/entry")
}
