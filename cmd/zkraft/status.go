package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// memberStatus is what one server's mntr (or, where mntr is not whitelisted, srvr)
// says about it.
type memberStatus struct {
	Addr        string
	Err         error
	Mode        string
	Term        int64 // Raft term (zk_raft_term); -1 when unknown
	Applied     int64 // Raft applied index (zk_raft_applied_index); -1 when unknown
	Zxid        int64
	Znodes      int64
	Sessions    int64 // global sessions
	Connections int64
	Version     string
}

// fourLetterWord asks addr a four-letter word and returns the reply.
func fourLetterWord(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	b, err := io.ReadAll(c)
	return string(b), err
}

// probeMember reads a member's state from mntr, falling back to srvr.
func probeMember(addr string, timeout time.Duration) memberStatus {
	st := memberStatus{Addr: addr, Term: -1, Applied: -1, Sessions: -1}
	out, err := fourLetterWord(addr, "mntr", timeout)
	if err != nil {
		st.Err = err
		return st
	}
	if strings.Contains(out, "not in the whitelist") || strings.Contains(out, "not currently serving") {
		srvr, err := fourLetterWord(addr, "srvr", timeout)
		if err != nil {
			st.Err = err
			return st
		}
		if strings.Contains(srvr, "not currently serving") {
			st.Mode = "not serving"
			return st
		}
		sc := bufio.NewScanner(strings.NewReader(srvr))
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ": ")
			if !ok {
				continue
			}
			switch k {
			case "Mode":
				st.Mode = v
			case "Zxid":
				st.Zxid, _ = strconv.ParseInt(strings.TrimPrefix(v, "0x"), 16, 64)
			case "Node count":
				st.Znodes, _ = strconv.ParseInt(v, 10, 64)
			case "Connections":
				st.Connections, _ = strconv.ParseInt(v, 10, 64)
			case "Zookeeper version":
				st.Version, _, _ = strings.Cut(v, ",")
			}
		}
		return st
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "\t")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		switch strings.TrimPrefix(k, "zk_") {
		case "server_state":
			st.Mode = v
		case "version":
			st.Version, _, _ = strings.Cut(v, ",")
		case "raft_term":
			st.Term = n
		case "raft_applied_index":
			st.Applied = n
		case "znode_count":
			st.Znodes = n
		case "global_sessions":
			st.Sessions = n
		case "num_alive_connections":
			st.Connections = n
		}
	}
	if srvr, err := fourLetterWord(addr, "srvr", timeout); err == nil {
		for line := range strings.SplitSeq(srvr, "\n") {
			if v, ok := strings.CutPrefix(line, "Zxid: 0x"); ok {
				st.Zxid, _ = strconv.ParseInt(v, 16, 64)
			}
		}
	}
	return st
}

// statusCmd prints every member's state: role, Raft term, how far it lags behind the
// leader, sessions, znodes.
func statusCmd() *cobra.Command {
	var servers string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each member of an ensemble: role, term, lag, sessions, znodes",
		Long: `Show each member of an ensemble: its role, the Raft term (ZooKeeper's epoch), how
many Raft entries it has still to apply compared with the leader, the last zxid it
applied, its sessions, client connections and znodes. It reads each server's mntr
(4lw.commands.whitelist must allow it, else srvr is used and less is shown), so it
works against ZooKeeper servers too.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			addrs := strings.Split(servers, ",")
			sts := make([]memberStatus, len(addrs))
			var wg sync.WaitGroup
			for i, a := range addrs {
				wg.Go(func() { sts[i] = probeMember(strings.TrimSpace(a), timeout) })
			}
			wg.Wait()
			return printStatus(cmd.OutOrStdout(), sts)
		},
	}
	cmd.Flags().StringVar(&servers, "servers", "127.0.0.1:2181", "comma-separated client addresses of the members")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "per-server timeout")
	return cmd
}

func printStatus(w io.Writer, sts []memberStatus) error {
	var leaderApplied int64 = -1
	leaders := 0
	for _, s := range sts {
		if s.Mode == "leader" {
			leaders++
			leaderApplied = s.Applied
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tMODE\tTERM\tLAG\tZXID\tSESSIONS\tCONNECTIONS\tZNODES\tVERSION")
	dash := func(n int64) string {
		if n < 0 {
			return "-"
		}
		return strconv.FormatInt(n, 10)
	}
	unreachable := 0
	for _, s := range sts {
		if s.Err != nil {
			unreachable++
			fmt.Fprintf(tw, "%s\tunreachable\t-\t-\t-\t-\t-\t-\t%v\n", s.Addr, s.Err)
			continue
		}
		lag := int64(-1)
		if leaderApplied >= 0 && s.Applied >= 0 {
			lag = max(leaderApplied-s.Applied, 0)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t0x%x\t%s\t%d\t%d\t%s\n", s.Addr, s.Mode, dash(s.Term), dash(lag), s.Zxid, dash(s.Sessions), s.Connections, s.Znodes, s.Version)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch {
	case len(sts) > 1 && leaders == 0:
		fmt.Fprintln(w, "no leader among these servers")
	case leaders > 1:
		fmt.Fprintln(w, "more than one server says it leads (a stale leader, or servers of different ensembles)")
	}
	if unreachable > 0 {
		return fmt.Errorf("%d of %d servers unreachable", unreachable, len(sts))
	}
	return nil
}
