// Command zkraft is a ZooKeeper-compatible coordination service. This file is thin
// wiring over the packages: behaviour lives in ensemble, storage and zkproto.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "zkraft",
		Short:         "A ZooKeeper-compatible coordination service on Raft",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), membersCmd(), benchCmd(), compatCmd(), versionCmd(),
		importCmd(), exportCmd(), backupCmd(), restoreCmd(), statusCmd(), shellCmd(), mirrorCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "zkraft:", err)
		os.Exit(1)
	}
}
