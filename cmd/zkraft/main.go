// Command zkraft is a ZooKeeper-compatible coordination service. This file is thin
// wiring over the packages: behaviour lives in ensemble, storage and zkproto.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "zkraft:", err)
		os.Exit(1)
	}
}

// rootCmd is the command tree: zkraft and its subcommands.
func rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "zkraft",
		Short:         "A ZooKeeper-compatible coordination service on Raft",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCmd(), membersCmd(), benchCmd(), compatCmd(), versionCmd(),
		importCmd(), exportCmd(), backupCmd(), restoreCmd(), statusCmd(), shellCmd(), mirrorCmd())
	return root
}
