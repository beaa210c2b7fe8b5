//go:build clients

package superset

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
)

// python is Debian's interpreter, which has the Debian packages below; the python3
// first on PATH may be another one.
const python = "/usr/bin/python3"

// pytestTimeout bounds one pytest run; the suite takes well under a minute.
const pytestTimeout = 4 * time.Minute

// needPython fails the test, naming the Debian package, if a module is missing.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		t.Fatalf("%s missing: apt-get install python3 python3-kazoo python3-pytest python3-celery python3-sqlalchemy (see .ci/run)", python)
	}
	for mod, pkg := range map[string]string{"kazoo": "python3-kazoo", "pytest": "python3-pytest",
		"celery": "python3-celery", "kombu": "python3-kombu", "sqlalchemy": "python3-sqlalchemy"} {
		cmd := exec.Command(python, "-c", "import "+mod)
		cmd.Env = cleanEnv()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("python module %s missing: apt-get install %s (see .ci/run): %v\n%s", mod, pkg, err, out)
		}
	}
}

func TestSupersetSingleServer(t *testing.T) {
	t.Parallel()
	needPython(t)
	srv := ensembletest.RunServer(t)
	runPytest(t, srv.Addr, nil)
}

// TestSupersetEnsemble runs the same suite against a 3-member ensemble. The tests stop
// the leader mid-scenario through ZK_CONTROL (POST /kill-leader): the test goroutine
// restarts any member stopped earlier, waits for it, then stops the current leader, so
// every call leaves two of three members serving.
func TestSupersetEnsemble(t *testing.T) {
	t.Parallel()
	needPython(t)
	c := ensembletest.RunCluster(t, 3)
	kill := func() (map[string]any, error) {
		for i, m := range c.Members {
			if m == nil {
				c.Start(i)
			}
		}
		l := c.Leader()
		c.Stop(l)
		return map[string]any{"stopped": l + 1, "addr": c.Addrs()[l]}, nil
	}
	runPytest(t, strings.Join(c.Addrs(), ","), map[string]func() (map[string]any, error){"kill-leader": kill})
}

type ctlReq struct {
	op    string
	reply chan ctlReply
}

type ctlReply struct {
	body map[string]any
	err  error
}

// runPytest runs the suite with ZK_HOSTS=hosts. Control operations requested over
// HTTP (127.0.0.1 only) run on the test goroutine, between waits for pytest.
func runPytest(t *testing.T, hosts string, ops map[string]func() (map[string]any, error)) {
	t.Helper()
	reqs := make(chan ctlReq)
	env := append(cleanEnv(), "ZK_HOSTS="+hosts, "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH=.")
	if ops != nil {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				http.Error(w, "POST only", http.StatusMethodNotAllowed)
				return
			}
			q := ctlReq{op: strings.TrimPrefix(r.URL.Path, "/"), reply: make(chan ctlReply, 1)}
			select {
			case reqs <- q:
			case <-time.After(time.Minute):
				http.Error(w, "test goroutine busy", http.StatusServiceUnavailable)
				return
			}
			rep := <-q.reply
			if rep.err != nil {
				http.Error(w, rep.err.Error(), http.StatusInternalServerError)
				return
			}
			json.NewEncoder(w).Encode(rep.body)
		})}
		go srv.Serve(ln)
		t.Cleanup(func() { srv.Close() })
		env = append(env, "ZK_CONTROL=http://"+ln.Addr().String())
	}

	cmd := exec.Command(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--tb=short",
		"-o", "faulthandler_timeout=120", "-o", "log_level=INFO", "tests")
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	// Its own process group, so that whatever pytest started is killed with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pgid := cmd.Process.Pid
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer syscall.Kill(-pgid, syscall.SIGKILL) // stragglers of the group, if any

	ctx, cancel := context.WithTimeout(context.Background(), pytestTimeout)
	defer cancel()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("pytest (ZK_HOSTS=%s): %v\n%s", hosts, err, out.String())
			}
			t.Logf("pytest (ZK_HOSTS=%s):\n%s", hosts, out.String())
			return
		case q := <-reqs:
			fn := ops[q.op]
			if fn == nil {
				q.reply <- ctlReply{err: fmt.Errorf("unknown operation %q", q.op)}
				continue
			}
			body, err := fn()
			t.Logf("control %s: %v %v", q.op, body, err)
			q.reply <- ctlReply{body: body, err: err}
		case <-ctx.Done():
			syscall.Kill(-pgid, syscall.SIGKILL)
			<-done
			t.Fatalf("pytest (ZK_HOSTS=%s) killed after %s\n%s", hosts, pytestTimeout, out.String())
		}
	}
}

// cleanEnv is the environment without the settings of another Python installation.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PYTHON") || strings.HasPrefix(kv, "PYENV") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
