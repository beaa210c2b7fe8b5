package integration

import (
	"fmt"
	"testing"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"
	"github.com/zkraft/zkraft/zkproto"
)

// Pipelined throughput of one session with a window of requests in flight on its
// connection, as kazoo's async API, Curator and ClickHouse send them. FIFO order must
// not cost pipelining: compare before and after a change to the request pipeline with
// `go test -run '^$' -bench Pipelined -count 6 ./integration/ | benchstat`.

const pipelineWindow = 16

func BenchmarkPipelinedSet(b *testing.B) {
	benchPipelined(b, func(i int, path string) (zkproto.OpCode, zkproto.Record) {
		return zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: make([]byte, 100), Version: -1}
	})
}

func BenchmarkPipelinedGet(b *testing.B) {
	benchPipelined(b, func(i int, path string) (zkproto.OpCode, zkproto.Record) {
		return zkproto.OpGetData, &zkproto.GetDataRequest{Path: path}
	})
}

// Reads between writes: every read waits for the write before it and runs before
// the write after it.
func BenchmarkPipelinedSetGet(b *testing.B) {
	benchPipelined(b, func(i int, path string) (zkproto.OpCode, zkproto.Record) {
		if i%2 == 0 {
			return zkproto.OpSetData, &zkproto.SetDataRequest{Path: path, Data: make([]byte, 100), Version: -1}
		}
		return zkproto.OpGetData, &zkproto.GetDataRequest{Path: path}
	})
}

func benchPipelined(b *testing.B, next func(i int, path string) (zkproto.OpCode, zkproto.Record)) {
	srv := ensembletest.RunServer(b)
	c, err := rawzk.Connect(srv.Addr, zkproto.ConnectRequest{TimeOut: 30000, Passwd: make([]byte, 16)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	path := fmt.Sprintf("/bench-%s", b.Name())
	if err := c.Call(zkproto.OpCreate, &zkproto.CreateRequest{Path: path, ACL: openACL}, &zkproto.CreateResponse{}); err != nil {
		b.Fatal(err)
	}
	xids := make([]zkproto.Xid, 0, b.N)
	b.ResetTimer()
	recv := func(i int) {
		if h, err := c.Recv(xids[i], nil); err != nil || h.Err != zkproto.ErrOK {
			b.Fatalf("reply %d: %v %v", i, h.Err, err)
		}
	}
	for i := 0; i < b.N; i++ {
		if i >= pipelineWindow {
			recv(i - pipelineWindow)
		}
		op, req := next(i, path)
		xid, err := c.Send(op, req)
		if err != nil {
			b.Fatal(err)
		}
		xids = append(xids, xid)
	}
	for i := max(0, b.N-pipelineWindow); i < b.N; i++ {
		recv(i)
	}
}
