package logstorebench

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"go.etcd.io/bbolt"
)

// A batch is what one Raft append of the leader carries: 1 for a lone session, up to
// the number of writes queued while the previous append was being fsynced. One op is
// one batch, stored and fsynced; entries/s is the store's throughput at that batch.
func BenchmarkStoreLogs(b *testing.B) {
	stores := []struct {
		name string
		open func(dir string) (raft.LogStore, func() error, error)
	}{
		{"bolt", func(dir string) (raft.LogStore, func() error, error) {
			// As storage/raftstore opens it.
			s, err := raftboltdb.New(raftboltdb.Options{Path: dir + "/raft.db",
				BoltOptions: &bbolt.Options{Timeout: time.Second, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}})
			if err != nil {
				return nil, nil, err
			}
			return s, s.Close, nil
		}},
		{"wal", func(dir string) (raft.LogStore, func() error, error) {
			s, err := wal.Open(dir)
			if err != nil {
				return nil, nil, err
			}
			return s, s.Close, nil
		}},
	}
	for _, batch := range []int{1, 16, 64, 256} {
		for _, st := range stores {
			b.Run(fmt.Sprintf("%s/batch=%d", st.name, batch), func(b *testing.B) {
				s, closeStore, err := st.open(b.TempDir())
				if err != nil {
					b.Fatal(err)
				}
				defer closeStore()
				data := make([]byte, 200) // a setData of 100 B, encoded as a txn
				next := uint64(1)
				logs := make([]*raft.Log, batch)
				b.ResetTimer()
				for range b.N {
					for j := range logs {
						logs[j] = &raft.Log{Index: next, Term: 1, Type: raft.LogCommand, Data: data, AppendedAt: time.Now()}
						next++
					}
					if err := s.StoreLogs(logs); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "entries/s")
			})
		}
	}
}
