package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkraft/zkraft/ensemble"
)

func serveCmd() *cobra.Command {
	var (
		configPath string
		dataDir    string
		clientAddr string
		logLevel   string
		peerListen string
		metrics    string
		adminAddr  string
		pprofOn    bool
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run a zkraft server in the foreground",
		Long: `Run a zkraft server in the foreground.

With no flags: a development node on 127.0.0.1:2181 keeping its data in ./zkraft-data.
With --config zoo.cfg: the server a ZooKeeper zoo.cfg describes, like
"zkServer.sh start-foreground". SIGTERM or SIGINT shut it down cleanly (a leader hands
leadership over first); SIGUSR1 asks a leader to hand leadership over and keep serving.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var level slog.Level
			if err := level.UnmarshalText([]byte(logLevel)); err != nil {
				return fmt.Errorf("--log-level %q: use debug, info, warn or error", logLevel)
			}
			logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

			cfg := ensemble.NewConfig()
			if configPath != "" {
				var err error
				if cfg, err = ensemble.LoadZooConfig(configPath, logger); err != nil {
					return err
				}
			} else {
				cfg.DataDir = dataDir
				// A development node (loopback, no zoo.cfg) answers every four-letter
				// word, so that tools such as kazoo's server_version() work against it.
				cfg.FourLetterWhitelist = []string{"*"}
			}
			if metrics != "" {
				cfg.MetricsAddr = metrics
			}
			if adminAddr != "" {
				cfg.AdminAddr = adminAddr
			}
			if pprofOn {
				if cfg.MetricsAddr == "" {
					return errors.New("--pprof serves the profiles on the metrics address: add --metrics-addr (or metricsProvider.httpPort in zoo.cfg)")
				}
				cfg.Pprof = true
			}
			if cmd.Flags().Changed("data-dir") {
				cfg.DataDir = dataDir
			}
			if cmd.Flags().Changed("client-addr") || configPath == "" {
				cfg.ClientAddr = clientAddr
			}
			if peerListen != "" {
				ln, err := net.Listen("tcp", peerListen)
				if err != nil {
					return fmt.Errorf("--peer-listen: %w", err)
				}
				cfg.PeerListener = ln
			}
			cfg.Logger = logger
			return serve(cfg, logger)
		},
	}
	cmd.Flags().StringVar(&configPath, "config", "", "a ZooKeeper zoo.cfg to run as")
	cmd.Flags().StringVar(&dataDir, "data-dir", "zkraft-data", "where the node keeps its Raft log and snapshots")
	cmd.Flags().StringVar(&clientAddr, "client-addr", "127.0.0.1:2181", "client listen address")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&metrics, "metrics-addr", "", "serve Prometheus metrics at http://ADDR/metrics (zoo.cfg: metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider, metricsProvider.httpPort)")
	cmd.Flags().BoolVar(&pprofOn, "pprof", false, "serve Go's profiles and execution trace at http://METRICS-ADDR/debug/pprof/ (for diagnosis: off by default)")
	cmd.Flags().StringVar(&adminAddr, "admin-addr", "", "serve the AdminServer (/commands/<name>, /ready, /health) at ADDR (zoo.cfg: admin.enableServer=true, admin.serverPort)")
	cmd.Flags().StringVar(&peerListen, "peer-listen", "", "listen for the other members here instead of at this member's server line address, which stays the address they dial (a proxy or NAT in between)")
	return cmd
}

func serve(cfg ensemble.Config, log *slog.Logger) error {
	start := time.Now()
	// The GC policy starts once the node is ready: while a restart loads the tree
	// and replays the log, nearly everything allocated stays live, and a memory
	// limit just above the live heap made the runtime collect and return memory to
	// the OS over and over, only to fault it back in.
	untuneGC := func() {}
	defer func() { untuneGC() }()
	srv, err := ensemble.Start(cfg)
	if err != nil {
		return err
	}
	if cfg.DataDir != "" {
		// The admin socket (zkraft backup, zkraft export of a running node).
		sock := adminSocket(cfg.DataDir)
		if len(sock) > maxSocketPath {
			log.Warn("no admin socket: the data directory's path is too long for a Unix socket; zkraft backup cannot reach this node", "path", sock)
		} else {
			os.Remove(sock) // a previous run's; this process holds the data directory's lock
			ln, err := net.Listen("unix", sock)
			if err != nil {
				log.Warn("no admin socket; zkraft backup cannot reach this node", "err", err)
			} else {
				os.Chmod(sock, 0o600)
				defer ln.Close()
				go serveAdminSocket(ln, srv, log)
			}
		}
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	ready := srv.Ready()
	for {
		select {
		case <-ready:
			ready = nil // fires once
			untuneGC = tuneGC()
			log.Info("zkraft ready", "client_addr", srv.Addr().String(), "data_dir", cfg.DataDir, "startup", time.Since(start).Round(time.Millisecond))
		case <-srv.Done():
			return srv.Err()
		case sig := <-sigs:
			if sig == syscall.SIGUSR1 {
				// An operator's request to move leadership off this member.
				if err := srv.TransferLeadership(0); err != nil {
					log.Warn("leadership transfer refused", "err", err)
				} else {
					log.Info("leadership transferred on request")
				}
				continue
			}
			log.Info("signal received; shutting down", "signal", sig.String())
			return srv.Close()
		}
	}
}
