package recipes_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/recipes"
)

// exampleSession starts an in-process zkraft (any ZooKeeper address works the same
// way) and connects to it. stop closes both.
func exampleSession() (s *recipes.Session, stop func()) {
	cfg := ensemble.NewConfig()
	cfg.ClientAddr = "127.0.0.1:0"
	srv, err := ensemble.Start(cfg)
	if err != nil {
		log.Fatal(err)
	}
	<-srv.Ready()
	s, err = recipes.Connect([]string{srv.Addr().String()}, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		log.Fatal(err)
	}
	return s, func() { s.Close(); srv.Close() }
}

func ExampleMutex() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()

	m := recipes.NewMutex(s, "/locks/report", recipes.WithData([]byte("worker-1")))
	if err := m.Lock(ctx); err != nil {
		log.Fatal(err)
	}
	// Write only while the lock is still held: a check of the lock node and the
	// write commit together or not at all.
	_, err := m.Guard(ctx, &zk.CreateRequest{Path: "/report", Data: []byte("done"), Acl: zk.WorldACL(zk.PermAll)})
	fmt.Println("guarded write:", err)
	fmt.Println("fencing token > 0:", m.Token() > 0)
	select {
	case <-m.Lost():
		fmt.Println("lost")
	default:
		fmt.Println("still held")
	}
	fmt.Println("unlock:", m.Unlock(ctx))
	// Output:
	// guarded write: <nil>
	// fencing token > 0: true
	// still held
	// unlock: <nil>
}

func ExampleMutex_TryLock() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	a := recipes.NewMutex(s, "/locks/job")
	b := recipes.NewMutex(s, "/locks/job", recipes.WithLayout(recipes.LayoutCurator))
	okA, _ := a.TryLock(ctx)
	okB, _ := b.TryLock(ctx)
	fmt.Println(okA, okB)
	a.Unlock(ctx)
	okB, _ = b.TryLock(ctx)
	fmt.Println(okB)
	b.Unlock(ctx)
	// Output:
	// true false
	// true
}

func ExampleRWMutex() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	r1 := recipes.NewRWMutex(s, "/locks/table")
	r2 := recipes.NewRWMutex(s, "/locks/table")
	fmt.Println(r1.RLock(ctx), r2.RLock(ctx)) // readers share
	r1.RUnlock(ctx)
	r2.RUnlock(ctx)
	w := recipes.NewRWMutex(s, "/locks/table")
	fmt.Println(w.Lock(ctx), w.Unlock(ctx))
	// Output:
	// <nil> <nil>
	// <nil> <nil>
}

func ExampleSemaphore() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	sem := recipes.NewSemaphore(s, "/pools/db", 2)
	a, _ := sem.Acquire(ctx)
	b, _ := sem.Acquire(ctx)
	c, _ := sem.TryAcquire(ctx)
	fmt.Println(a != nil, b != nil, c != nil)
	a.Release(ctx)
	b.Release(ctx)
	// Output: true true false
}

func ExampleLeaderElection() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	e := recipes.NewLeaderElection(s, "/election/scheduler", "node-1")
	if err := e.Campaign(ctx); err != nil {
		log.Fatal(err)
	}
	leader, _, _ := e.Leader(ctx)
	fmt.Println("leader:", leader)
	done := make(chan struct{})
	go func() {
		select {
		case <-e.Lost(): // closes if leadership is lost without Resign: stop leading work
		case <-done:
		}
	}()
	fmt.Println(e.Resign(ctx))
	close(done)
	// Output:
	// leader: node-1
	// <nil>
}

func ExampleGroupMembership() {
	s, stop := exampleSession()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	g := recipes.NewGroupMembership(s, "/members/api")
	view := g.Watch(ctx)
	fmt.Println(len(<-view))
	m, _ := g.Join(ctx, []byte("10.0.0.1:8080"))
	for ms := range view {
		if len(ms) == 1 {
			fmt.Println(string(ms[0].Data))
			break
		}
	}
	m.Leave(ctx)
	// Output:
	// 0
	// 10.0.0.1:8080
}

func ExampleConfig() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	type limits struct{ MaxConns int }
	cfg := recipes.NewConfig[limits](s, "/config/limits")
	ver, _ := cfg.CompareAndSet(ctx, limits{100}, recipes.Absent)
	_, err := cfg.CompareAndSet(ctx, limits{50}, ver+1) // wrong version
	fmt.Println(err)
	v, _ := cfg.Update(ctx, func(cur limits, _ bool) (limits, error) {
		cur.MaxConns *= 2
		return cur, nil
	})
	fmt.Println(v.Value.MaxConns, v.Version)
	// Output:
	// recipes: version conflict
	// 200 1
}

func ExampleBarrier() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	b := recipes.NewBarrier(s, "/barriers/deploy")
	b.Set(ctx)
	done := make(chan error)
	go func() { done <- b.Wait(ctx) }()
	b.Remove(ctx)
	fmt.Println(<-done)
	// Output: <nil>
}

func ExampleDoubleBarrier() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	d1 := recipes.NewDoubleBarrier(s, "/barriers/step", 2)
	d2 := recipes.NewDoubleBarrier(s, "/barriers/step", 2)
	errs := make(chan error, 2)
	for _, d := range []*recipes.DoubleBarrier{d1, d2} {
		go func() {
			if err := d.Enter(ctx); err != nil {
				errs <- err
				return
			}
			errs <- d.Leave(ctx)
		}()
	}
	fmt.Println(<-errs, <-errs)
	// Output: <nil> <nil>
}

func ExampleQueue() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	q := recipes.NewQueue(s, "/queues/jobs")
	q.Put(ctx, []byte("later"), 100)
	q.Put(ctx, []byte("urgent"), 1)
	a, _ := q.Get(ctx)
	b, _ := q.Get(ctx)
	fmt.Println(string(a), string(b))
	// Output: urgent later
}

func ExampleCounter() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	c := recipes.NewCounter(s, "/counters/hits", recipes.CounterKazoo)
	c.Add(ctx, 5)
	v, _ := c.Add(ctx, -2)
	fmt.Println(v)
	// Output: 3
}

func ExampleServiceRegistry() {
	s, stop := exampleSession()
	defer stop()
	ctx := context.Background()
	reg := recipes.NewServiceRegistry(s, "/services")
	defer reg.Close()
	port := 8080
	reg.Register(ctx, recipes.ServiceInstance{
		Name: "api", ID: "api-1", Address: "10.0.0.1", Port: &port,
		URISpec: recipes.ParseURISpec("{scheme}://{address}:{port}"),
	})
	list, _ := reg.Instances(ctx, "api")
	for _, inst := range list {
		fmt.Println(inst.ID, inst.ServiceType, inst.URISpec.Build(inst))
	}
	// Output: api-1 DYNAMIC http://10.0.0.1:8080
}
