package crosslang_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/zkraft/zkraft/ensemble/ensembletest"
	"github.com/zkraft/zkraft/recipes"
)

// Curator 5.4 from Debian (libcurator-recipes-java, libcurator-framework-java,
// libcurator-client-java, libcurator-discovery-java) and a JDK.
var curatorJars = []string{
	"curator-client.jar", "curator-framework.jar", "curator-recipes.jar", "curator-x-discovery.jar",
	"guava.jar", "zookeeper.jar", "zookeeper-jute.jar", "slf4j-api.jar", "slf4j-nop.jar",
	"jackson-core.jar", "jackson-databind.jar", "jackson-annotations.jar",
}

var curator struct {
	once sync.Once
	cp   string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if curator.cp != "" {
		os.RemoveAll(strings.SplitN(curator.cp, ":", 2)[0])
	}
	if code == 0 {
		if err := goleak.Find(); err != nil { // child-process readers, recipe watchers
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// curatorClasspath compiles testdata/CuratorPeer.java once per run.
func curatorClasspath(t *testing.T) string {
	t.Helper()
	curator.once.Do(func() {
		var jars []string
		for _, j := range curatorJars {
			p := filepath.Join("/usr/share/java", j)
			if _, err := os.Stat(p); err != nil {
				curator.err = fmt.Errorf("%s missing (apt-get install libcurator-recipes-java libcurator-framework-java libcurator-client-java libcurator-discovery-java zookeeper): %w", p, err)
				return
			}
			jars = append(jars, p)
		}
		dir, err := os.MkdirTemp("", "curatorpeer-")
		if err != nil {
			curator.err = err
			return
		}
		cp := strings.Join(jars, ":")
		out, err := exec.Command("javac", "-d", dir, "-cp", cp, "testdata/CuratorPeer.java").CombinedOutput()
		if err != nil {
			os.RemoveAll(dir)
			curator.err = fmt.Errorf("javac (install a JDK): %v\n%s", err, out)
			return
		}
		curator.cp = dir + ":" + cp
	})
	if curator.err != nil {
		t.Fatal(curator.err)
	}
	return curator.cp
}

func startCurator(t *testing.T, args ...string) *pyProc {
	t.Helper()
	cp := curatorClasspath(t)
	cmd := exec.Command("java", append([]string{"-Xmx128m", "-cp", cp, "CuratorPeer"}, args...)...)
	return startProc(t, "CuratorPeer "+args[0], cmd)
}

// A Go Mutex in Curator layout and a Curator InterProcessMutex exclude each other.
func TestMutexWithCuratorMutex(t *testing.T) {
	srv := ensembletest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const path = "/crosslang/curator-lock"
	m := recipes.NewMutex(session(t, srv.Addr), path, recipes.WithLayout(recipes.LayoutCurator))
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	j := startCurator(t, "lock", srv.Addr, path)
	j.expect(t, "WAITING", 30*time.Second)
	j.quiet(t, "ACQUIRED", time.Second)
	if err := m.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	j.expect(t, "ACQUIRED", 10*time.Second)
	got := make(chan error, 1)
	go func() { got <- m.Lock(ctx) }()
	select {
	case err := <-got:
		t.Fatalf("Go took a lock Curator holds (err %v)", err)
	case <-time.After(time.Second):
	}
	j.send(t, "release")
	j.expect(t, "RELEASED", 10*time.Second)
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Go did not get the lock after Curator released it")
	}
	m.Unlock(ctx)
}

// A Go LeaderElection in Curator layout and a Curator LeaderLatch: one leader,
// failover when the Java process dies, and back when Go resigns.
func TestElectionWithCuratorLeaderLatch(t *testing.T) {
	srv := ensembletest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const path = "/crosslang/curator-latch"
	e := recipes.NewLeaderElection(session(t, srv.Addr), path, "go", recipes.WithLayout(recipes.LayoutCurator))
	j := startCurator(t, "latch", srv.Addr, path, "java1")
	j.expect(t, "LEADER", 30*time.Second)
	won := make(chan error, 1)
	go func() { won <- e.Campaign(ctx) }()
	select {
	case err := <-won:
		t.Fatalf("Go leads while Curator does (err %v)", err)
	case <-time.After(time.Second):
	}
	if id, ok, err := e.Leader(ctx); err != nil || !ok || id != "java1" {
		t.Fatalf("leader %q %v %v, want java1", id, ok, err)
	}
	if err := j.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-won:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Go did not take over from the dead Curator leader")
	}
	j2 := startCurator(t, "latch", srv.Addr, path, "java2")
	j2.expect(t, "CANDIDATE", 30*time.Second)
	j2.quiet(t, "LEADER", 1500*time.Millisecond)
	if !e.IsLeader() {
		t.Fatal("Go lost leadership to a new candidate")
	}
	if err := e.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	j2.expect(t, "LEADER", 10*time.Second)
	if id, _, _ := e.Leader(ctx); id != "java2" {
		t.Fatalf("leader %q, want java2", id)
	}
	j2.send(t, "resign")
	j2.expect(t, "RESIGNED", 10*time.Second)
}

// Go and Curator service discovery find each other's instances.
func TestServiceRegistryWithCuratorDiscovery(t *testing.T) {
	srv := ensembletest.RunServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const base = "/crosslang/services"
	reg := recipes.NewServiceRegistry(session(t, srv.Addr), base)
	defer reg.Close()
	port := 9090
	if _, err := reg.Register(ctx, recipes.ServiceInstance{Name: "go-api", ID: "go-1", Address: "127.0.0.2", Port: &port,
		URISpec: recipes.ParseURISpec("{scheme}://{address}:{port}")}); err != nil {
		t.Fatal(err)
	}
	d := startCurator(t, "discover", srv.Addr, base, "go-api")
	if l := d.expect(t, "INSTANCE", 30*time.Second); l != "INSTANCE go-1 127.0.0.2 9090 DYNAMIC http://127.0.0.2:9090" {
		t.Fatalf("Curator sees %q", l)
	}
	d.expect(t, "DONE", 10*time.Second)

	j := startCurator(t, "register", srv.Addr, base, "java-api", "java-1", "7070")
	j.expect(t, "REGISTERED", 30*time.Second)
	list, err := reg.Instances(ctx, "java-api")
	if err != nil || len(list) != 1 {
		t.Fatalf("%+v %v", list, err)
	}
	in := list[0]
	if in.ID != "java-1" || in.Address != "127.0.0.1" || in.Port == nil || *in.Port != 7070 || in.ServiceType != recipes.ServiceDynamic ||
		in.URISpec.Build(in) != "http://127.0.0.1:7070" {
		t.Fatalf("Go sees %+v", in)
	}
	j.send(t, "quit")
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, _ := reg.Instances(ctx, "java-api")
		if len(list) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Java instance still registered after it quit")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
