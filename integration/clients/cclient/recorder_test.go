//go:build clients

package cclient

import (
	"os"
	"testing"

	"github.com/zkraft/zkraft/integration/clients/matrix"
	"github.com/zkraft/zkraft/integration/internal/recorder"
)

// column is this package's column of integration/clients/MATRIX.md, recorded by the
// proxy of the "single" subtest; TestMain writes it when ZKRAFT_WRITE_MATRIX=1.
const column = "C client"

var rec = recorder.New()

func TestMain(m *testing.M) {
	os.Exit(matrix.Main(m, rec, "..", column))
}
