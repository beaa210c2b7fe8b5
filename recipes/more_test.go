package recipes_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zkraft/zkraft/recipes"
)

func TestRWMutex(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 20*time.Second)
		p := root(t) + "/rw"
		r1 := recipes.NewRWMutex(session(t, addr, 5*time.Second), p)
		r2 := recipes.NewRWMutex(session(t, addr, 5*time.Second), p)
		w := recipes.NewRWMutex(session(t, addr, 5*time.Second), p)
		if err := r1.RLock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := r2.RLock(ctx); err != nil { // readers share
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() { got <- w.Lock(ctx) }()
		select {
		case <-got:
			t.Fatal("writer got the lock while readers hold it")
		case <-time.After(300 * time.Millisecond):
		}
		// A reader arriving after the waiting writer queues behind it.
		r3 := recipes.NewRWMutex(session(t, addr, 5*time.Second), p)
		got3 := make(chan error, 1)
		eventually(t, 5*time.Second, func() error {
			if n := len(children(t, rawConn(t, addr), p)); n != 3 {
				return fmt.Errorf("%d nodes", n)
			}
			return nil
		})
		go func() { got3 <- r3.RLock(ctx) }()
		r1.RUnlock(ctx)
		r2.RUnlock(ctx)
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		select {
		case <-got3:
			t.Fatal("reader got the lock while the writer holds it")
		case <-time.After(300 * time.Millisecond):
		}
		if err := w.Unlock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-got3; err != nil {
			t.Fatal(err)
		}
		r3.RUnlock(ctx)
	})
}

func TestSemaphore(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 30*time.Second)
		p := root(t) + "/sem"
		const max, workers = 2, 5
		var inside, peak atomic.Int32
		var wg sync.WaitGroup
		for i := range workers {
			s := session(t, addr, 5*time.Second)
			sem := recipes.NewSemaphore(s, p, max, recipes.WithData([]byte(fmt.Sprint(i))))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 3 {
					l, err := sem.Acquire(ctx)
					if err != nil {
						t.Error(err)
						return
					}
					n := inside.Add(1)
					for {
						old := peak.Load()
						if n <= old || peak.CompareAndSwap(old, n) {
							break
						}
					}
					time.Sleep(10 * time.Millisecond)
					inside.Add(-1)
					if err := l.Release(ctx); err != nil {
						t.Error(err)
					}
				}
			}()
		}
		wg.Wait()
		if peak.Load() > max || peak.Load() == 0 {
			t.Fatalf("peak %d leases, max %d", peak.Load(), max)
		}
		s := session(t, addr, 5*time.Second)
		sem := recipes.NewSemaphore(s, p, max)
		a, err := sem.TryAcquire(ctx)
		if err != nil || a == nil {
			t.Fatal(a, err)
		}
		b, _ := sem.TryAcquire(ctx)
		if c, err := sem.TryAcquire(ctx); c != nil || err != nil {
			t.Fatalf("third lease of two: %v %v", c, err)
		}
		if _, err := recipes.NewSemaphore(s, p, 3).TryAcquire(ctx); err == nil {
			t.Fatal("a semaphore with a different max was accepted")
		}
		a.Release(ctx)
		b.Release(ctx)
		if err := b.Release(ctx); !errors.Is(err, recipes.ErrNotHeld) {
			t.Fatalf("double release: %v", err)
		}
	})
}

// A lease is lost with its session.
func TestSemaphoreLeaseLost(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 20*time.Second)
		px := newProxy(t, addr)
		sem := recipes.NewSemaphore(session(t, px.Addr(), 600*time.Millisecond), root(t)+"/sem", 1)
		l, err := sem.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		other := recipes.NewSemaphore(session(t, addr, 5*time.Second), root(t)+"/sem", 1)
		px.setCut(true)
		waitClosed(t, l.Lost(), 5*time.Second, "lease Lost after expiry")
		l2, err := other.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		l2.Release(ctx)
	})
}

func TestGroupMembership(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 20*time.Second)
		p := root(t) + "/group"
		px := newProxy(t, addr)
		watcher := recipes.NewGroupMembership(session(t, addr, 5*time.Second), p)
		view := watcher.Watch(ctx)
		expect := func(want ...string) {
			t.Helper()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case ms := <-view:
					var got []string
					for _, m := range ms {
						got = append(got, string(m.Data))
					}
					if fmt.Sprint(sortedCopy(got)) == fmt.Sprint(want) {
						return
					}
				case <-deadline:
					t.Fatalf("view never became %v", want)
				}
			}
		}
		expect()
		a, err := recipes.NewGroupMembership(session(t, px.Addr(), 600*time.Millisecond), p).Join(ctx, []byte("a"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := recipes.NewGroupMembership(session(t, addr, 5*time.Second), p).Join(ctx, []byte("b"))
		if err != nil {
			t.Fatal(err)
		}
		expect("a", "b")
		px.setCut(true) // a's session expires
		waitClosed(t, a.Lost(), 5*time.Second, "membership Lost")
		expect("b")
		if err := b.Leave(ctx); err != nil {
			t.Fatal(err)
		}
		expect()
		if ms, err := watcher.Members(ctx); err != nil || len(ms) != 0 {
			t.Fatal(ms, err)
		}
	})
}

type appConfig struct {
	Replicas int    `json:"replicas"`
	Mode     string `json:"mode"`
}

func TestConfig(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 20*time.Second)
		p := root(t) + "/cfg"
		c1 := recipes.NewConfig[appConfig](session(t, addr, 5*time.Second), p)
		c2 := recipes.NewConfig[appConfig](session(t, addr, 5*time.Second), p)
		v, err := c1.Get(ctx)
		if err != nil || v.Version != recipes.Absent {
			t.Fatal(v, err)
		}
		live := c2.Watch(ctx)
		if first := <-live; first.Version != recipes.Absent {
			t.Fatalf("first watched value %+v", first)
		}
		ver, err := c1.CompareAndSet(ctx, appConfig{1, "a"}, recipes.Absent)
		if err != nil || ver != 0 {
			t.Fatal(ver, err)
		}
		if _, err := c2.CompareAndSet(ctx, appConfig{9, "x"}, recipes.Absent); !errors.Is(err, recipes.ErrVersionConflict) {
			t.Fatalf("create over an existing value: %v", err)
		}
		waitValue := func(want appConfig) {
			t.Helper()
			deadline := time.After(10 * time.Second)
			for {
				select {
				case v := <-live:
					if v.Value == want {
						return
					}
				case <-deadline:
					t.Fatalf("watch never showed %+v", want)
				}
			}
		}
		waitValue(appConfig{1, "a"})
		if _, err := c2.CompareAndSet(ctx, appConfig{2, "b"}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := c1.CompareAndSet(ctx, appConfig{3, "stale"}, 0); !errors.Is(err, recipes.ErrVersionConflict) {
			t.Fatalf("stale compare-and-set: %v", err)
		}
		waitValue(appConfig{2, "b"})
		// Concurrent Updates all apply.
		var wg sync.WaitGroup
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c1.Update(ctx, func(cur appConfig, _ bool) (appConfig, error) {
					cur.Replicas++
					return cur, nil
				}); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		waitValue(appConfig{7, "b"})
	})
}

func TestBarrier(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 20*time.Second)
		p := root(t) + "/barrier"
		b := recipes.NewBarrier(session(t, addr, 5*time.Second), p)
		if err := b.Set(ctx); err != nil {
			t.Fatal(err)
		}
		passed := make(chan error, 3)
		for range 3 {
			w := recipes.NewBarrier(session(t, addr, 5*time.Second), p)
			go func() { passed <- w.Wait(ctx) }()
		}
		select {
		case <-passed:
			t.Fatal("passed a raised barrier")
		case <-time.After(300 * time.Millisecond):
		}
		if err := b.Remove(ctx); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := <-passed; err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestDoubleBarrier(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 30*time.Second)
		p := root(t) + "/double"
		const n = 3
		var entered, left atomic.Int32
		var wg sync.WaitGroup
		start := func() {
			d := recipes.NewDoubleBarrier(session(t, addr, 5*time.Second), p, n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := d.Enter(ctx); err != nil {
					t.Error(err)
					return
				}
				entered.Add(1)
				if err := d.Leave(ctx); err != nil {
					t.Error(err)
					return
				}
				left.Add(1)
			}()
		}
		for range n - 1 {
			start()
		}
		time.Sleep(300 * time.Millisecond)
		if entered.Load() != 0 {
			t.Fatal("entered before all arrived")
		}
		start()
		wg.Wait()
		if entered.Load() != n || left.Load() != n {
			t.Fatalf("entered %d left %d", entered.Load(), left.Load())
		}
		if ch := children(t, rawConn(t, addr), p); len(ch) != 0 {
			t.Fatalf("left behind: %v", ch)
		}
	})
}

func TestQueue(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 20*time.Second)
		p := root(t) + "/queue"
		q := recipes.NewQueue(session(t, addr, 5*time.Second), p)
		if _, err := q.TryGet(ctx); !errors.Is(err, recipes.ErrEmpty) {
			t.Fatalf("empty queue: %v", err)
		}
		for i, prio := range []int{100, 100, 5, 100} {
			if err := q.Put(ctx, []byte(fmt.Sprint(i)), prio); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := q.Len(ctx); n != 4 {
			t.Fatalf("len %d", n)
		}
		var got []string
		for range 4 {
			d, err := q.Get(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(d))
		}
		if fmt.Sprint(got) != "[2 0 1 3]" {
			t.Fatalf("order %v, want priority then FIFO", got)
		}
		// Blocking consumers each get one distinct entry.
		const consumers = 4
		results := make(chan string, consumers)
		for range consumers {
			c := recipes.NewQueue(session(t, addr, 5*time.Second), p)
			go func() {
				d, err := c.Get(ctx)
				if err != nil {
					t.Error(err)
				}
				results <- string(d)
			}()
		}
		time.Sleep(100 * time.Millisecond)
		for i := range consumers {
			q.Put(ctx, []byte(fmt.Sprint("m", i)), 100)
		}
		seen := map[string]bool{}
		for range consumers {
			seen[<-results] = true
		}
		if len(seen) != consumers {
			t.Fatalf("duplicates: %v", seen)
		}
	})
}

func TestCounter(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 20*time.Second)
		for _, enc := range []recipes.CounterEncoding{recipes.CounterKazoo, recipes.CounterCurator} {
			p := fmt.Sprint(root(t), "/counter", enc)
			var wg sync.WaitGroup
			for range 4 {
				c := recipes.NewCounter(session(t, addr, 5*time.Second), p, enc)
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 5 {
						if _, err := c.Add(ctx, 2); err != nil {
							t.Error(err)
						}
					}
				}()
			}
			wg.Wait()
			raw := rawConn(t, addr)
			data, _, err := raw.Get(p)
			if err != nil {
				t.Fatal(err)
			}
			want := "40"
			if enc == recipes.CounterCurator {
				want = "\x00\x00\x00\x28"
			}
			if string(data) != want {
				t.Fatalf("stored %q, want %q", data, want)
			}
			c := recipes.NewCounter(session(t, addr, 5*time.Second), p, enc)
			v, ver, err := c.Value(ctx)
			if err != nil || v != 40 {
				t.Fatal(v, err)
			}
			if err := c.CompareAndSet(ctx, ver-1, 0); !errors.Is(err, recipes.ErrVersionConflict) {
				t.Fatalf("stale CAS: %v", err)
			}
		}
	})
}

func TestServiceRegistry(t *testing.T) {
	forBackends(t, func(t *testing.T, addr string) {
		ctx := ctxT(t, 20*time.Second)
		base := root(t) + "/services"
		px := newProxy(t, addr)
		reg := recipes.NewServiceRegistry(session(t, px.Addr(), 600*time.Millisecond), base)
		defer reg.Close()
		port := 8080
		inst, err := reg.Register(ctx, recipes.ServiceInstance{
			Name: "api", Address: "10.0.0.1", Port: &port,
			URISpec: recipes.ParseURISpec("{scheme}://{address}:{port}/v1"),
		})
		if err != nil {
			t.Fatal(err)
		}
		raw := rawConn(t, addr)
		data, st, err := raw.Get(base + "/api/" + inst.ID)
		if err != nil {
			t.Fatal(err)
		}
		if st.EphemeralOwner == 0 {
			t.Fatal("DYNAMIC instance is not ephemeral")
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"name", "id", "address", "port", "sslPort", "payload", "registrationTimeUTC", "serviceType", "uriSpec"} {
			if _, ok := m[k]; !ok {
				t.Errorf("JSON lacks %q: %s", k, data)
			}
		}
		if m["serviceType"] != "DYNAMIC" || m["sslPort"] != nil {
			t.Errorf("JSON %s", data)
		}
		other := recipes.NewServiceRegistry(session(t, addr, 5*time.Second), base)
		defer other.Close()
		list, err := other.Instances(ctx, "api")
		if err != nil || len(list) != 1 || list[0].ID != inst.ID || list[0].URISpec.Build(list[0]) != "http://10.0.0.1:8080/v1" {
			t.Fatalf("%+v %v", list, err)
		}
		// After expiry and a new session, the instance is registered again.
		px.setCut(true)
		eventually(t, 10*time.Second, func() error {
			if ok, _, _ := raw.Exists(base + "/api/" + inst.ID); ok {
				return errors.New("still registered")
			}
			return nil
		})
		px.setCut(false)
		eventually(t, 15*time.Second, func() error {
			if ok, _, _ := raw.Exists(base + "/api/" + inst.ID); !ok {
				return errors.New("not registered again")
			}
			return nil
		})
		if err := reg.Unregister(ctx, "api", inst.ID); err != nil {
			t.Fatal(err)
		}
		if list, _ := other.Instances(ctx, "api"); len(list) != 0 {
			t.Fatalf("after unregister: %+v", list)
		}
	})
}

// Instances written by Curator (JsonInstanceSerializer, Curator 4/5) decode.
func TestServiceInstanceCuratorJSON(t *testing.T) {
	const curator = `{"name":"test","id":"ef8ed8ba-d5b7-4e56-bbd1-5a1c95da2c4c","address":"10.20.30.40","port":1234,"sslPort":null,"payload":{"@class":"java.util.HashMap","k":"v"},"registrationTimeUTC":1325129459728,"serviceType":"STATIC","uriSpec":{"parts":[{"value":"scheme","variable":true},{"value":"://foo.com:","variable":false},{"value":"port","variable":true}]},"enabled":true}`
	var inst recipes.ServiceInstance
	if err := json.Unmarshal([]byte(curator), &inst); err != nil {
		t.Fatal(err)
	}
	if inst.Name != "test" || *inst.Port != 1234 || inst.SSLPort != nil || inst.ServiceType != "STATIC" ||
		inst.URISpec.Build(inst) != "http://foo.com:1234" || inst.RegistrationTimeUTC != 1325129459728 {
		t.Fatalf("%+v", inst)
	}
	spec := recipes.ParseURISpec("{scheme}://foo.com:{port}")
	if fmt.Sprint(spec.Parts) != fmt.Sprint(inst.URISpec.Parts) {
		t.Fatalf("ParseURISpec %v, Curator %v", spec.Parts, inst.URISpec.Parts)
	}
	out, _ := json.Marshal(inst)
	var back, orig map[string]any
	json.Unmarshal(out, &back)
	json.Unmarshal([]byte(curator), &orig)
	if fmt.Sprint(back) != fmt.Sprint(orig) {
		t.Fatalf("round trip changed the JSON:\n%s\n%s", out, curator)
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	if out == nil {
		return []string{}
	}
	return out
}
