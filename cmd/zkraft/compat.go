package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/zkraft/zkraft/integration/compat"
)

// compatCmd runs the differential scenarios against a running server or ensemble.
func compatCmd() *cobra.Command {
	var servers string
	o := compat.Options{}
	cmd := &cobra.Command{
		Use:   "compat --servers host:port[,host:port...]",
		Short: "Check a running server or ensemble against ZooKeeper 3.8.0's behaviour",
		Long: `Run the differential scenarios (about 1000 cases: every op's success and error
cases, ACLs, multi, paths, sessions, watches...) against a running server or
ensemble and report, per area, what passed and, for each failure, what was
expected and what came back. Exit status 1 when a case failed.

Without --reference, each case is compared with the transcript Apache ZooKeeper
3.8.0 produced (recorded by the differential suite). With --reference, each case
also runs against that server and the target must answer as it does.

Each case runs in its own namespace under /zkraft-compat-<random> and removes it
when it ends. Cases that need a server setting the target lacks (super password,
extendedTypesEnabled, 1 s–20 s session timeouts, fast container reaping, a client
on the server's host) are not run; the report says how many and why.`,
		Example: "  zkraft compat --servers 10.0.0.1:2181,10.0.0.2:2181,10.0.0.3:2181\n" +
			"  zkraft compat --servers 127.0.0.1:2181 --reference 127.0.0.1:2182 --super-password secret",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			for _, s := range strings.Split(servers, ",") {
				if s = strings.TrimSpace(s); s != "" {
					o.Servers = append(o.Servers, s)
				}
			}
			if len(o.Servers) == 0 {
				return fmt.Errorf("--servers: give the client address of at least one server")
			}
			o.Progress = cmd.ErrOrStderr()
			rep, err := compat.Check(o)
			if err != nil {
				return err
			}
			rep.Write(cmd.OutOrStdout())
			if !rep.OK() {
				return fmt.Errorf("%d compatibility cases failed", rep.Total.Failed)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&servers, "servers", "", "comma-separated client addresses of the target's members (required)")
	f.StringVar(&o.Reference, "reference", "", "a reference server (host:port) to compare with, instead of the recorded ZooKeeper 3.8.0 transcripts")
	f.StringVar(&o.SuperPassword, "super-password", "", "the password of the servers' superDigest (runs the super ACL cases)")
	f.IntVar(&o.JuteMaxBuffer, "jute-maxbuffer", compat.DefaultMaxBuffer, "the servers' jute.maxbuffer (the size cases run only at the default)")
	f.StringVar(&o.Filter, "run", "", "run only the cases whose name contains this (or one of these, comma-separated)")
	f.IntVar(&o.Parallel, "parallel", 4, "cases run at once")
	cmd.MarkFlagRequired("servers")
	return cmd
}
