//go:build clients

package clients

import (
	"os"
	"testing"

	"github.com/zkraft/zkraft/integration/clients/matrix"
	"github.com/zkraft/zkraft/integration/internal/recorder"
	"github.com/zkraft/zkraft/zkproto"
)

// The client matrix is measured, not claimed: every client in this package talks to
// zkraft through a recording proxy (integration/internal/recorder) that decodes each
// request's op code and the error code of its reply. TestMain records this package's
// columns and renders MATRIX.md (integration/clients/matrix) when ZKRAFT_WRITE_MATRIX=1.

var rec = recorder.New()

// startProxy forwards to server, recording into this package's matrix columns as client.
func startProxy(t *testing.T, client, server string) *recorder.Proxy {
	t.Helper()
	return recorder.StartProxy(t, rec, client, server)
}

// seenOK reports whether client's op was answered with OK in some test.
func seenOK(client string, op zkproto.OpCode) bool { return rec.OK(client, op) }

func opCode(i int32) zkproto.OpCode { return zkproto.OpCode(i) }

func TestMain(m *testing.M) {
	os.Exit(matrix.Main(m, rec, ".", "go-zookeeper", "kazoo", "zkCli.sh"))
}
