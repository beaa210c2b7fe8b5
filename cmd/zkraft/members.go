package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/cobra"
)

// membersCmd changes an ensemble's membership through the reconfig op, one server at
// a time, as zkCli.sh's reconfig does.
func membersCmd() *cobra.Command {
	var server, auth string
	connect := func() (*zk.Conn, error) {
		c, _, err := zk.Connect(strings.Split(server, ","), 10*time.Second, zk.WithLogInfo(false))
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", server, err)
		}
		if auth != "" {
			if err := c.AddAuth("digest", []byte(auth)); err != nil {
				c.Close()
				return nil, fmt.Errorf("addauth: %w", err)
			}
		}
		return c, nil
	}
	show := func(cmd *cobra.Command, c *zk.Conn) error {
		if _, err := c.Sync("/zookeeper/config"); err != nil {
			return err
		}
		data, _, err := c.Get("/zookeeper/config")
		if err != nil {
			return fmt.Errorf("read /zookeeper/config: %w", err)
		}
		if len(data) == 0 {
			fmt.Fprintln(cmd.OutOrStdout(), "standalone server: no ensemble membership")
			return nil
		}
		fmt.Fprintln(cmd.OutOrStdout(), string(data))
		return nil
	}
	root := &cobra.Command{
		Use:   "members",
		Short: "Show or change an ensemble's members (reconfig)",
		Long: `Show or change an ensemble's members. Changes go through the reconfig op, so the
servers need reconfigEnabled=true and the caller super rights (--auth super:password)
or WRITE on /zookeeper/config.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			defer c.Close()
			return show(cmd, c)
		},
	}
	root.PersistentFlags().StringVar(&server, "server", "127.0.0.1:2181", "comma-separated client addresses of members")
	root.PersistentFlags().StringVar(&auth, "auth", "", "digest identity user:password to authenticate as")
	// change runs one reconfig and shows the membership that results.
	change := func(what string, joining, leaving []string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			defer c.Close()
			if _, err := c.IncrementalReconfig(joining, leaving, -1); err != nil {
				return fmt.Errorf("reconfig %s: %w", what, err)
			}
			return show(cmd, c)
		}
	}
	add := &cobra.Command{
		Use:     "add server.N=host:peerPort:electionPort[:participant|:observer];clientHost:clientPort",
		Short:   "Add a member (start it first with a zoo.cfg that lists the ensemble and itself)",
		Example: "  zkraft members add 'server.4=10.0.0.4:2888:3888:participant;10.0.0.4:2181' --auth super:secret",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return change("add", args, nil)(cmd, args)
		},
	}
	remove := &cobra.Command{
		Use:   "remove ID",
		Short: "Remove a member by its server id",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return change("remove", nil, args)(cmd, args)
		},
	}
	root.AddCommand(add, remove)
	return root
}
