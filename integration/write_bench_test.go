package integration

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// Durable writes of many sessions at once against one node: the shape of
// `zkraft bench --op set|create --clients N --inflight W`, in process, so that
// `-cpuprofile`, `-mutexprofile` and `-blockprofile` see the server's write path:
//
//	go test -run '^$' -bench 'Writes/set/16x16' -benchtime 20000x -cpuprofile cpu.out ./integration/
//
// One op is one acknowledged write; ns/op is the inverse of throughput.
// BenchmarkEnsembleWrites is the same against three members, sessions spread over
// them (two in three writes are forwarded by a follower).
func BenchmarkWrites(b *testing.B) {
	benchWriteShapes(b, func(b *testing.B) []string {
		return []string{ensembletest.RunServer(b, ensembletest.WithDataDir(b.TempDir())).Addr} // durable: fsynced
	})
}

func BenchmarkEnsembleWrites(b *testing.B) {
	// zoo.cfg's usual tickTime rather than the test clusters' 250 ms: a stall of a
	// loaded machine must not turn into an election that closes the sessions.
	tick := ensembletest.WithConfig(func(c *ensemble.Config) { c.TickTime = 2 * time.Second })
	benchWriteShapes(b, func(b *testing.B) []string { return ensembletest.RunCluster(b, 3, tick).Addrs() })
}

func benchWriteShapes(b *testing.B, start func(*testing.B) []string) {
	for _, op := range []string{"set", "create"} {
		for _, shape := range []struct{ sessions, window int }{{1, 1}, {16, 1}, {64, 1}, {16, 16}} {
			b.Run(fmt.Sprintf("%s/%dx%d", op, shape.sessions, shape.window), func(b *testing.B) {
				benchWrites(b, start(b), op, shape.sessions, shape.window)
			})
		}
	}
}

func benchWrites(b *testing.B, addrs []string, op string, sessions, window int) {
	conns := make([]*rawzk.Conn, sessions)
	for i := range conns {
		c, err := rawzk.Connect(addrs[i%len(addrs)], zkproto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		path := fmt.Sprintf("/w%d", i)
		if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
			b.Fatal(err)
		}
		conns[i] = c
	}
	data := make([]byte, 100)
	request := func(path string, i int) (zkproto.OpCode, zkproto.Record) {
		if op == "create" {
			return zkproto.OpCreate, &zkproto.CreateRequest{Path: fmt.Sprintf("%s/n%d", path, i), Data: data, ACL: openACL}
		}
		return zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: data, Version: -1}
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	lats := make([][]time.Duration, sessions) // each request's send to reply
	for s, c := range conns {
		n := b.N / sessions
		if s < b.N%sessions {
			n++
		}
		wg.Add(1)
		go func(c *rawzk.Conn, path string, n int, lat *[]time.Duration) {
			defer wg.Done()
			xids := make([]zkproto.Xid, 0, n)
			sent := make([]time.Time, 0, n)
			recv := func(i int) error {
				h, err := c.Recv(xids[i], nil)
				*lat = append(*lat, time.Since(sent[i]))
				if err == nil && h.Err != zkproto.ErrOK {
					err = fmt.Errorf("reply %d: %v", i, h.Err)
				}
				return err
			}
			for i := 0; i < n; i++ {
				if i >= window {
					if err := recv(i - window); err != nil {
						errs <- err
						return
					}
				}
				sent = append(sent, time.Now())
				xid, err := c.Send(request(path, i))
				if err != nil {
					errs <- err
					return
				}
				xids = append(xids, xid)
			}
			for i := max(0, n-window); i < n; i++ {
				if err := recv(i); err != nil {
					errs <- err
					return
				}
			}
		}(c, fmt.Sprintf("/w%d", s), n, &lats[s])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	all := slices.Concat(lats...)
	slices.Sort(all)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}
