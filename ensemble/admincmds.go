package ensemble

import (
	"errors"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/ensemble/admin"
	"github.com/zkraft/zkraft/ensemble/fourletter"
	"github.com/zkraft/zkraft/storage/datatree"
)

// adminCommands are the AdminServer's commands, with ZooKeeper 3.8's names, aliases
// and JSON fields (ensemble/admin/testdata holds the reference's answers).
func (s *Server) adminCommands() []admin.Command {
	src := flwSource{s: s}
	serving := func(run func() admin.Object) func(url.Values) (admin.Object, error) {
		return func(url.Values) (admin.Object, error) {
			if !src.Serving() {
				return nil, errors.New("This ZooKeeper instance is not currently serving requests")
			}
			return run(), nil
		}
	}
	always := func(run func() admin.Object) func(url.Values) (admin.Object, error) {
		return func(url.Values) (admin.Object, error) { return run(), nil }
	}
	return []admin.Command{
		{Names: []string{"configuration", "conf", "config"}, Run: always(s.adminConf)},
		{Names: []string{"connection_stat_reset", "crst"}, Run: always(func() admin.Object { src.ResetConnStats(); return admin.Object{} })},
		{Names: []string{"connections", "cons"}, Run: serving(func() admin.Object {
			return admin.O("connections", s.adminConns(src, false), "secure_connections", []any{})
		})},
		{Names: []string{"dirs"}, Run: always(func() admin.Object {
			d, l := src.Dirs()
			return admin.O("datadir_size", d, "logdir_size", l)
		})},
		{Names: []string{"dump"}, Run: serving(s.adminDump)},
		{Names: []string{"environment", "env", "envi"}, Run: always(adminEnv)},
		{Names: []string{"get_trace_mask", "gtmk"}, Run: always(func() admin.Object {
			return admin.O("tracemask", s.obs.traceMask.Load())
		})},
		{Names: []string{"hash"}, Run: always(func() admin.Object {
			// ZooKeeper's digests (digest.enabled) are not kept; it lists none when off.
			return admin.O("digests", []any{})
		})},
		{Names: []string{"initial_configuration", "icfg"}, Run: always(func() admin.Object {
			return admin.O("initial_configuration", nil)
		})},
		{Names: []string{"is_read_only", "isro"}, Run: serving(func() admin.Object {
			return admin.O("read_only", s.readOnly.Load())
		})},
		{Names: []string{"last_snapshot", "lsnp"}, Run: serving(func() admin.Object {
			return admin.O("zxid", strconv.FormatInt(s.obs.lastSnapZxid.Load(), 16), "timestamp", s.obs.lastSnapTime.Load())
		})},
		{Names: []string{"leader", "lead"}, Run: s.adminLeader},
		{Names: []string{"monitor", "mntr"}, Run: serving(func() admin.Object {
			var o admin.Object
			for _, f := range fourletter.MonitorFields(src.Server(), src.Monitor()) {
				o.Add(f.Key, f.Value)
			}
			return o
		})},
		{Names: []string{"observer_connection_stat_reset", "orst"}, Run: always(func() admin.Object { return admin.Object{} })},
		{Names: []string{"observers", "obsr"}, Run: always(func() admin.Object {
			_, _, _, _, syncedObs := s.quorumStats()
			return admin.O("synced_observers", syncedObs, "observers", []any{})
		})},
		{Names: []string{"ruok"}, Run: always(func() admin.Object { return admin.Object{} })},
		{Names: []string{"server_stats", "srvr"}, Run: serving(func() admin.Object { return s.adminStats(src, false) })},
		{Names: []string{"set_trace_mask", "stmk"}, Run: func(q url.Values) (admin.Object, error) {
			v, err := strconv.ParseInt(q.Get("traceMask"), 10, 64)
			if err != nil {
				return nil, errors.New("setTraceMask requires long traceMask argument")
			}
			s.obs.traceMask.Store(v)
			return admin.O("tracemask", v), nil
		}},
		{Names: []string{"stat_reset", "srst"}, Run: serving(func() admin.Object { src.ResetServerStats(); return admin.Object{} })},
		{Names: []string{"stats", "stat"}, Run: serving(func() admin.Object { return s.adminStats(src, true) })},
		{Names: []string{"system_properties", "sysp"}, Run: always(adminSysProps)},
		{Names: []string{"voting_view"}, Run: always(s.adminVotingView)},
		{Names: []string{"watch_summary", "wchs"}, Run: serving(func() admin.Object {
			ws := src.Watches()
			sessions, paths := map[int64]bool{}, map[string]bool{}
			for _, w := range ws {
				sessions[w.SessionID], paths[w.Path] = true, true
			}
			return admin.O("num_connections", len(sessions), "num_paths", len(paths), "num_total_watches", len(ws))
		})},
		{Names: []string{"watches", "wchc"}, Run: serving(func() admin.Object {
			by := map[string]any{}
			for _, w := range src.Watches() {
				k := strconv.FormatInt(w.SessionID, 10)
				ps, _ := by[k].([]string)
				by[k] = append(ps, w.Path)
			}
			for k, v := range by {
				ps := v.([]string)
				slices.Sort(ps)
				by[k] = slices.Compact(ps)
			}
			return admin.O("session_id_to_watched_paths", by)
		})},
		{Names: []string{"watches_by_path", "wchp"}, Run: serving(func() admin.Object {
			by := map[string]any{}
			for _, w := range src.Watches() {
				ids, _ := by[w.Path].([]int64)
				by[w.Path] = append(ids, w.SessionID)
			}
			for k, v := range by {
				ids := v.([]int64)
				slices.Sort(ids)
				by[k] = slices.Compact(ids)
			}
			return admin.O("path_to_session_ids", by)
		})},
		{Names: []string{"zabstate"}, Run: always(s.adminZabState)},
	}
}

func (s *Server) adminConf() admin.Object {
	c := flwSource{s: s}.Conf()
	return admin.O(
		"client_port", c.ClientPort,
		"data_dir", c.DataDir,
		"data_log_dir", c.DataLogDir,
		"tick_time", c.TickTime,
		"max_client_cnxns", c.MaxClientCnxns,
		"min_session_timeout", c.MinSessionTimeout,
		"max_session_timeout", c.MaxSessionTimeout,
		"server_id", c.ServerID,
		"client_port_listen_backlog", c.ClientPortListenBacklog,
	)
}

// adminConns lists the client connections as ServerCnxn.getConnectionInfo does;
// brief is stat's short form.
func (s *Server) adminConns(src flwSource, brief bool) []any {
	out := []any{}
	for _, c := range src.Connections() {
		o := admin.O(
			"remote_socket_address", strings.TrimPrefix(fourletter.JavaAddr(c.Remote), "/"),
			"interest_ops", c.InterestOps,
			"outstanding_requests", c.Queued,
			"packets_received", c.Received,
			"packets_sent", c.Sent,
		)
		if !brief {
			lcxid, lzxid := c.LastCxid, c.LastZxid
			if c.LastOp == "NA" {
				lcxid, lzxid = -1, -1
			}
			o = append(o, admin.O(
				"session_id", c.SessionID,
				"last_operation", c.LastOp,
				"established", c.Established.UnixMilli(),
				"session_timeout", c.Timeout,
				"last_cxid", lcxid,
				"last_zxid", lzxid,
				"last_response_time", millisOrZero(c.LastResponse.UnixMilli(), c.LastResponse.IsZero()),
				"last_latency", c.LastLatency,
				"min_latency", c.MinLatency,
				"avg_latency", c.AvgLatency,
				"max_latency", c.MaxLatency,
			)...)
		}
		out = append(out, o)
	}
	return out
}

func millisOrZero(ms int64, zero bool) int64 {
	if zero {
		return 0
	}
	return ms
}

// adminStats is server_stats (srvr) and, with the connections, stats (stat).
func (s *Server) adminStats(src flwSource, withConns bool) admin.Object {
	sv := src.Server()
	d, l := src.Dirs()
	resp := admin.O(
		"last_buffer_size", s.stats.resp.last.Load(),
		"min_buffer_size", s.stats.resp.lo.Load(),
		"max_buffer_size", s.stats.resp.hi.Load(),
	)
	o := admin.O(
		"version", fourletter.FullVersion(),
		"read_only", sv.ReadOnly,
		"server_stats", admin.O(
			"packets_sent", sv.Sent,
			"packets_received", sv.Received,
			"fsync_threshold_exceed_count", int64(0),
			"client_response_stats", resp,
			"provider_null", false,
			"server_state", sv.Mode,
			"outstanding_requests", sv.Outstanding,
			"min_latency", sv.MinLatency,
			"avg_latency", sv.AvgLatency,
			"max_latency", sv.MaxLatency,
			"data_dir_size", d,
			"log_dir_size", l,
			"last_processed_zxid", sv.Zxid,
			"num_alive_client_connections", sv.Connections,
			"uptime", int64(sinceStart(s)),
			"auth_failed_count", s.stats.authFailed.Load(),
			"non_mtlsremote_conn_count", s.stats.nonMTLSRemote.Load(),
			"non_mtlslocal_conn_count", s.stats.nonMTLSLocal.Load(),
		),
		"client_response", resp,
	)
	if p := sv.ProposalSizes; p != nil {
		o.Add("proposal_stats", admin.O("last_buffer_size", p[0], "min_buffer_size", p[1], "max_buffer_size", p[2]))
	}
	o.Add("node_count", sv.NodeCount)
	if withConns {
		o.Add("connections", s.adminConns(src, true))
		o.Add("secure_connections", []any{})
	}
	return o
}

func sinceStart(s *Server) int64 { return flwSource{s: s}.Monitor().Uptime.Milliseconds() }

func (s *Server) adminDump() admin.Object {
	d := flwSource{s: s}.Dump()
	expiry := map[string]any{}
	for _, b := range d.SessionBuckets {
		expiry[strconv.FormatInt(b.Expire.UnixMilli(), 10)] = b.Sessions
	}
	eph := map[string]any{}
	for _, e := range d.Ephemerals {
		eph[strconv.FormatInt(e.SessionID, 10)] = e.Paths
	}
	return admin.O("expiry_time_to_session_ids", expiry, "session_id_to_ephemeral_paths", eph)
}

func adminEnv() admin.Object {
	e := fourletter.CurrentEnv()
	return admin.O(
		"zookeeper.version", fourletter.FullVersion(),
		"host.name", e.HostName,
		"go.version", e.GoVersion,
		"os.name", e.OSName,
		"os.arch", e.OSArch,
		"os.version", e.OSVersion,
		"user.name", e.UserName,
		"user.home", e.UserHome,
		"user.dir", e.UserDir,
		"os.memory.free", strconv.FormatUint(e.MemFree/1024/1024, 10)+"MB",
		"os.memory.max", strconv.FormatUint(e.MemMax/1024/1024, 10)+"MB",
		"os.memory.total", strconv.FormatUint(e.MemTotal/1024/1024, 10)+"MB",
	)
}

// adminSysProps are the process's properties that have a meaning outside a JVM.
func adminSysProps() admin.Object {
	e := fourletter.CurrentEnv()
	exe, _ := os.Executable()
	return admin.O(
		"file.separator", string(os.PathSeparator),
		"go.version", runtime.Version(),
		"go.executable", exe,
		"line.separator", "\n",
		"os.arch", e.OSArch,
		"os.name", e.OSName,
		"os.version", e.OSVersion,
		"path.separator", string(os.PathListSeparator),
		"user.dir", e.UserDir,
		"user.home", e.UserHome,
		"user.name", e.UserName,
	)
}

func (s *Server) adminLeader(url.Values) (admin.Object, error) {
	if s.standalone() {
		return nil, errors.New("server is not initialized") // as a standalone ZooKeeper answers
	}
	addr, id := s.raft.LeaderWithID()
	if addr == "" {
		return nil, errors.New("leader is not ready")
	}
	lid, _ := strconv.ParseInt(string(id), 10, 64)
	host, _, err := net.SplitHostPort(string(addr))
	if err != nil {
		host = string(addr)
	}
	return admin.O("is_leader", s.raft.State() == raft.Leader, "leader_id", lid, "leader_ip", host), nil
}

func (s *Server) adminVotingView() admin.Object {
	view := admin.Object{}
	if !s.standalone() {
		if f := s.raft.GetConfiguration(); f.Error() == nil {
			servers := slices.Clone(f.Configuration().Servers)
			slices.SortFunc(servers, func(a, b raft.Server) int {
				x, _ := strconv.ParseInt(string(a.ID), 10, 64)
				y, _ := strconv.ParseInt(string(b.ID), 10, 64)
				return int(x - y)
			})
			for _, sv := range servers {
				id, _ := strconv.ParseInt(string(sv.ID), 10, 64)
				p := s.peerInfo(id)
				election := ""
				if host, _, err := net.SplitHostPort(string(sv.Address)); err == nil && p.ElectionPort > 0 {
					election = net.JoinHostPort(host, strconv.Itoa(p.ElectionPort))
				}
				learner := "participant"
				if sv.Suffrage != raft.Voter {
					learner = "observer"
				}
				view.Add(string(sv.ID), admin.O(
					"server_addresses", []string{string(sv.Address)},
					"election_addresses", nonEmpty(election),
					"client_address", p.ClientAddr,
					"learner_type", learner,
				))
			}
		}
	}
	return admin.O("current_config", view)
}

func nonEmpty(s string) []string {
	if s == "" {
		return []string{}
	}
	return []string{s}
}

// addressObject is ZooKeeper's MultipleAddresses as Jackson writes it.
func addressObject(addr string) admin.Object {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	all := nonEmpty(addr)
	return admin.O(
		"empty", addr == "",
		"all_addresses", all,
		"all_reachable_addresses", all,
		"one", addr,
		"reachable_address", addr,
		"wildcard_addresses", nonEmpty(net.JoinHostPort("0.0.0.0", port)),
		"all_ports", []int{p},
		"all_host_strings", nonEmpty(host),
		"all_reachable_addresses_or_all", all,
		"reachable_or_one", addr,
	)
}

func (s *Server) adminZabState() admin.Object {
	if s.standalone() {
		return admin.O("voting", false, "zabstate", "")
	}
	self := s.peerInfo(s.cfg.ServerID)
	election := ""
	if host, _, err := net.SplitHostPort(self.PeerAddr); err == nil && self.ElectionPort > 0 {
		election = net.JoinHostPort(host, strconv.Itoa(self.ElectionPort))
	}
	var zxid int64
	s.fsm.read(func(t *datatree.Tree) { zxid = int64(t.LastZxid()) })
	state := "broadcast"
	switch {
	case !s.isReady():
		state = "synchronization"
	case s.obs.leaderlessSince.Load() != 0:
		state = "election"
	}
	// zkraft's zxid is a 64-bit counter, not epoch<<32|counter: the Raft term
	// stands for the epoch, the zxid itself for the counter.
	return admin.O(
		"myid", s.cfg.ServerID,
		"is_leader", s.raft.State() == raft.Leader,
		"quorum_address", addressObject(self.PeerAddr),
		"election_address", addressObject(election),
		"client_address", s.ln.Addr().String(),
		"voting", !self.Observer,
		"last_zxid", "0x"+strconv.FormatInt(zxid, 16),
		"zab_epoch", int64(s.raft.CurrentTerm()),
		"zab_counter", zxid,
		"zabstate", state,
	)
}
