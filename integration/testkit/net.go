package testkit

import (
	"github.com/zkraft/zkraft/ensemble/ensembletest/rawzk"

	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// FreePorts returns n loopback ports that are free now. All listeners stay open until
// every port is picked, so no port is handed out twice; they are closed before the
// caller's servers bind them.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := freePorts(n)
	if err != nil {
		t.Fatalf("pick a free port: %v", err)
	}
	return ports
}

func freePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// FreeAddr returns a loopback host:port that is free now, for a server the test starts.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return fmt.Sprintf("127.0.0.1:%d", FreePorts(t, 1)[0])
}

// FourLetter sends a four-letter word to addr and returns the answer (rawzk.FourLetter).
func FourLetter(addr, word string, timeout time.Duration) (string, error) {
	return rawzk.FourLetter(addr, word, timeout)
}

// WaitFourLetter polls addr with word until the answer contains want: how a test waits
// for a server it started (srvr answers "Mode: ..." once the server serves). It gives up
// when within passes or when exited (if not nil) is closed, as when the server's
// process died.
func WaitFourLetter(addr, word, want string, within time.Duration, exited <-chan struct{}) error {
	deadline := time.Now().Add(within)
	var last string
	var lastErr error
	for {
		out, err := FourLetter(addr, word, 2*time.Second)
		if err == nil && strings.Contains(out, want) {
			return nil
		}
		last, lastErr = out, err
		select {
		case <-exited:
			return fmt.Errorf("the server exited before %s on %s answered %q", word, addr, want)
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s on %s did not answer %q within %v (last: %q, %v)", word, addr, want, within, last, lastErr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
