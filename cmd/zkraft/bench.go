package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"
)

// benchCmd measures a running server (zkraft or Apache ZooKeeper) from the client
// side, so both can be compared with the same load.
func benchCmd() *cobra.Command {
	var (
		server   string
		clients  int
		duration time.Duration
		op       string
		size     int
		root     string
		inflight int
		tlsOpts  benchTLS
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and latency of a running ZooKeeper-compatible server",
		Long: `Measure throughput and latency of a running server with a fixed load: --clients
sessions each keep --inflight requests of --op outstanding (pipelined on the session's
connection) for --duration. Run it against zkraft and
against Apache ZooKeeper on the same machine to compare.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch op {
			case "create", "set", "get":
			default:
				return fmt.Errorf("--op %q: use create, set or get", op)
			}
			if inflight < 1 {
				return fmt.Errorf("--inflight %d: use 1 or more", inflight)
			}
			dial, err := tlsOpts.dialer()
			if err != nil {
				return err
			}
			res, err := runBench(strings.Split(server, ","), clients, inflight, duration, op, size, root, dial)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "op=%s clients=%d inflight=%d size=%d duration=%v ops=%d throughput=%.0f/s p50=%v p99=%v max=%v errors=%d\n",
				op, clients, inflight, size, duration, res.ops, float64(res.ops)/duration.Seconds(), res.p50, res.p99, res.max, res.errors)
			return nil
		},
	}
	cmd.Flags().StringVar(&server, "server", "127.0.0.1:2181", "comma-separated client addresses")
	cmd.Flags().IntVar(&clients, "clients", 16, "concurrent sessions")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "how long to run")
	cmd.Flags().StringVar(&op, "op", "create", "create, set or get")
	cmd.Flags().IntVar(&inflight, "inflight", 1, "requests each session keeps outstanding")
	cmd.Flags().IntVar(&size, "size", 100, "data bytes per write")
	cmd.Flags().StringVar(&root, "root", "/zkraft-bench", "znode under which the benchmark works (deleted first)")
	tlsOpts.flags(cmd)
	return cmd
}

type benchResult struct {
	ops, errors   int
	p50, p99, max time.Duration
}

// runBench runs the load; dial, when set, connects the sessions (TLS).
func runBench(servers []string, clients, inflight int, d time.Duration, op string, size int, root string, dial zk.Dialer) (benchResult, error) {
	setup, err := benchConnect(servers, dial)
	if err != nil {
		return benchResult{}, err
	}
	defer setup.Close()
	acl := zk.WorldACL(zk.PermAll)
	if _, err := setup.Create(root, nil, 0, acl); err != nil && err != zk.ErrNodeExists {
		return benchResult{}, fmt.Errorf("create %s: %w", root, err)
	}
	data := make([]byte, size)
	conns := make([]*zk.Conn, clients)
	for i := range conns {
		c, err := benchConnect(servers, dial)
		if err != nil {
			return benchResult{}, err
		}
		defer c.Close()
		conns[i] = c
		p := fmt.Sprintf("%s/c%d", root, i)
		if _, err := c.Create(p, data, 0, acl); err != nil && err != zk.ErrNodeExists {
			return benchResult{}, fmt.Errorf("create %s: %w", p, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu   sync.Mutex
		lats []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	for i, c := range conns {
		for g := range inflight {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mine := make([]time.Duration, 0, 1024)
				bad := 0
				p := fmt.Sprintf("%s/c%d", root, i)
				for n := 0; ctx.Err() == nil; n++ {
					start := time.Now()
					var err error
					switch op {
					case "create":
						_, err = c.Create(fmt.Sprintf("%s/n%d-%d", p, g, n), data, 0, acl)
					case "set":
						_, err = c.Set(p, data, -1)
					case "get":
						_, _, err = c.Get(p)
					}
					if err != nil {
						bad++
						continue
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lats = append(lats, mine...)
				errs += bad
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	slices.Sort(lats)
	r := benchResult{ops: len(lats), errors: errs}
	if len(lats) > 0 {
		r.p50, r.p99, r.max = lats[len(lats)/2], lats[len(lats)*99/100], lats[len(lats)-1]
	}
	return r, nil
}
