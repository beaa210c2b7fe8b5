package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/zkraft/zkraft/ensemble"
	"github.com/zkraft/zkraft/storage/datatree"
	"github.com/zkraft/zkraft/storage/zkdata"
)

// nodeTarget is the node a command seeds or reads: a zoo.cfg, or a data directory
// of a development node.
type nodeTarget struct {
	config  string
	dataDir string
}

func (n *nodeTarget) flags(cmd *cobra.Command, dirFlag, dirHelp string) {
	cmd.Flags().StringVar(&n.config, "config", "", "the zoo.cfg of the node (its dataDir, dataLogDir, server lines and myid)")
	cmd.Flags().StringVar(&n.dataDir, dirFlag, "", dirHelp)
}

func (n *nodeTarget) resolve(cmd *cobra.Command, dirFlag string) (ensemble.Config, error) {
	cfg := ensemble.NewConfig()
	if n.config != "" {
		var err error
		if cfg, err = ensemble.LoadZooConfig(n.config, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
			return cfg, err
		}
	}
	if n.dataDir != "" {
		cfg.DataDir = n.dataDir
	}
	if cfg.DataDir == "" {
		return cfg, fmt.Errorf("give --%s or --config", dirFlag)
	}
	return cfg, nil
}

// adminSocket is where a running node answers zkraft backup and export: a Unix
// socket in its data directory, reachable by whoever may read the data directory.
func adminSocket(dataDir string) string { return filepath.Join(dataDir, "zkraft.sock") }

// maxSocketPath is the longest Unix socket path Linux takes.
const maxSocketPath = 107

// serveAdminSocket answers backup requests on the node's admin socket until ln
// closes. A connection sends "backup\n"; the node answers "ok <zxid> <nodes>\n" and
// the snapshot (storage/datatree format), or "error <message>\n".
func serveAdminSocket(ln net.Listener, srv *ensemble.Server, log *slog.Logger) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil || strings.TrimSpace(line) != "backup" {
				fmt.Fprintf(c, "error unknown request %q\n", strings.TrimSpace(line))
				return
			}
			c.SetReadDeadline(time.Time{})
			// The header needs the zxid before the body: write to a temporary file
			// first, so the tree is not held in memory twice.
			tmp, err := os.CreateTemp("", "zkraft-backup-")
			if err != nil {
				fmt.Fprintf(c, "error %v\n", err)
				return
			}
			defer os.Remove(tmp.Name())
			defer tmp.Close()
			info, err := srv.Backup(tmp)
			if err != nil {
				fmt.Fprintf(c, "error %v\n", err)
				return
			}
			if _, err := tmp.Seek(0, io.SeekStart); err != nil {
				fmt.Fprintf(c, "error %v\n", err)
				return
			}
			fmt.Fprintf(c, "ok %d %d %d\n", info.Zxid, info.Nodes, info.Bytes)
			if _, err := io.Copy(c, tmp); err != nil {
				log.Warn("backup: sending the snapshot failed", "err", err)
				return
			}
			log.Info("backup sent", "zxid", fmt.Sprintf("%#x", info.Zxid), "nodes", info.Nodes, "bytes", info.Bytes)
		}()
	}
}

// fetchBackup asks the node running on dataDir for a backup and writes it to w.
func fetchBackup(dataDir string, w io.Writer) (zxid int64, nodes int, err error) {
	c, err := net.Dial("unix", adminSocket(dataDir))
	if err != nil {
		return 0, 0, err
	}
	defer c.Close()
	if _, err := io.WriteString(c, "backup\n"); err != nil {
		return 0, 0, err
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, 0, fmt.Errorf("backup: no answer from the node: %w", err)
	}
	f := strings.Fields(line)
	if len(f) != 4 || f[0] != "ok" {
		return 0, 0, fmt.Errorf("backup: the node says: %s", strings.TrimSpace(strings.TrimPrefix(line, "error")))
	}
	zxid, _ = strconv.ParseInt(f[1], 10, 64)
	nodes, _ = strconv.Atoi(f[2])
	size, _ := strconv.ParseInt(f[3], 10, 64)
	n, err := io.Copy(w, br)
	if err != nil {
		return 0, 0, err
	}
	if n != size {
		return 0, 0, fmt.Errorf("backup: got %d bytes of %d", n, size)
	}
	return zxid, nodes, nil
}

// writeFileAtomic writes a file through a temporary one, synced, then renamed.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := write(bw); err != nil {
		tmp.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func importCmd() *cobra.Command {
	var (
		from, logDir, snapshot string
		to                     nodeTarget
		tornTail, ignoreDigest bool
		quiet                  bool
	)
	cmd := &cobra.Command{
		Use:   "import --from <ZooKeeper dataDir> [--log-dir <dataLogDir>] --to <zkraft dataDir>",
		Short: "Make a zkraft data directory of a stopped ZooKeeper server's data",
		Long: `Read a ZooKeeper server's data directory (version-2 snapshots, plain, .gz or .snappy,
and transaction logs; ZooKeeper 3.4 to 3.9) as the server restores it at start (the
newest snapshot and every transaction logged after it), and write it as the state of a
new zkraft node: every znode with its data, ACL and Stat, each parent's child counter
(sequential names continue where ZooKeeper left them), the last zxid, and the open
sessions (clients can resume them with the ids and passwords ZooKeeper gave them; the
others expire after their timeout). /zookeeper/config is zkraft's own.

Stop the ZooKeeper server first (or copy its directories). The import checks the digests
ZooKeeper recorded (3.6+) against the tree it replays and prints the digest of the tree
it read and of the tree it wrote. Damage fails the import, naming the file and offset,
and writes nothing. The target must be new and empty (myid and zoo.cfg may be there).
For an ensemble, import into every member's data directory (--config with each
member's zoo.cfg) before starting any of them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("give --from, the ZooKeeper dataDir")
			}
			cfg, err := to.resolve(cmd, "to")
			if err != nil {
				return err
			}
			if err := checkTargetEmpty(cfg); err != nil {
				return err
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			start := time.Now()
			// A batch job holding a few copies of the tree: trade memory for less
			// collection work.
			debug.SetGCPercent(400)
			progress := func(msg string) {
				if !quiet {
					fmt.Fprintln(errOut, msg)
				}
			}
			res, err := zkdata.Load(zkdata.LoadOptions{DataDir: from, LogDir: logDir, Snapshot: snapshot,
				TruncateTornTail: tornTail, IgnoreDigests: ignoreDigest, Progress: progress})
			if err != nil {
				return fmt.Errorf("import: nothing written: %w", err)
			}
			zt := res.Tree
			if res.Snapshot != nil {
				fmt.Fprintf(out, "snapshot:      %s (zxid %#x, %d znodes, %d sessions)\n", res.Snapshot.File, res.Snapshot.Zxid, res.Snapshot.Nodes, res.Snapshot.Sessions)
			} else {
				fmt.Fprintln(out, "snapshot:      none (the logs replayed on an empty tree)")
			}
			fmt.Fprintf(out, "logs:          %d files, %d txns replayed after the snapshot\n", len(res.Logs), res.Txns)
			if res.TruncatedRecord != "" {
				fmt.Fprintf(out, "torn tail:     dropped, as ZooKeeper does: %s\n", res.TruncatedRecord)
			}
			if res.DigestsChecked > 0 {
				fmt.Fprintf(out, "zk digests:    %d recorded by ZooKeeper matched the replay (last %d at zxid %#x)\n", res.DigestsChecked, res.LastDigest, res.LastDigestZxid)
			} else {
				fmt.Fprintln(out, "zk digests:    none recorded (ZooKeeper before 3.6, or digests disabled)")
			}
			if res.DigestMismatch != "" {
				fmt.Fprintf(out, "WARNING:       %s\n", res.DigestMismatch)
			}
			if res.DeadSessions > 0 || res.DroppedOrphans > 0 {
				fmt.Fprintf(out, "cleanup:       %d dead sessions' ephemerals deleted, %d unreachable znodes dropped (as ZooKeeper does at load)\n", res.DeadSessions, res.DroppedOrphans)
			}
			fmt.Fprintf(out, "tree read:     %d znodes, %d sessions, last zxid %#x, digest %d\n", len(zt.Nodes), len(zt.Sessions), zt.Zxid, zt.Digest())
			dt, err := zt.ToDataTree()
			if err != nil {
				return fmt.Errorf("import: nothing written: %w", err)
			}
			if err := ensemble.Seed(cfg, dt); err != nil {
				return fmt.Errorf("import: %w", err)
			}
			// Read back what was written, with only the read tree's digest kept.
			readDigest, readZxid := zt.Digest(), zt.Zxid
			res, zt, dt = nil, nil, nil
			written, err := ensemble.ReadDataDir(cfg.DataDir, cfg.DataLogDir)
			if err != nil {
				removeSeeded(cfg)
				return fmt.Errorf("import: reading back what was written failed, removed it: %w", err)
			}
			snap := written.Snapshot()
			wd := zkdata.RecordsDigest(snap.Nodes())
			fmt.Fprintf(out, "tree written:  %d znodes, %d sessions, last zxid %#x, digest %d, in %s\n", snap.NodeCount(), len(snap.Sessions()), int64(snap.Zxid()), wd, cfg.DataDir)
			if wd != readDigest || int64(snap.Zxid()) != readZxid {
				removeSeeded(cfg)
				return errors.New("import: the tree written differs from the tree read; removed what was written")
			}
			fmt.Fprintf(out, "imported in %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the ZooKeeper server's dataDir (holding version-2/)")
	cmd.Flags().StringVar(&logDir, "log-dir", "", "the ZooKeeper server's dataLogDir, if not its dataDir")
	cmd.Flags().StringVar(&snapshot, "snapshot", "", "start from this snapshot file instead of the newest")
	cmd.Flags().BoolVar(&tornTail, "truncate-torn-tail", false, "drop an incomplete last record of the newest log, as ZooKeeper does after a crash")
	cmd.Flags().BoolVar(&ignoreDigest, "ignore-digest-mismatch", false, "import even if the tree's digest differs from one ZooKeeper recorded")
	cmd.Flags().BoolVar(&quiet, "quiet", false, "no progress lines")
	to.flags(cmd, "to", "the new zkraft data directory")
	return cmd
}

// checkTargetEmpty refuses to seed over data.
func checkTargetEmpty(cfg ensemble.Config) error {
	for _, d := range []string{cfg.DataDir, cfg.DataLogDir} {
		if d == "" {
			continue
		}
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if e.Name() != "myid" && e.Name() != "zoo.cfg" {
				return fmt.Errorf("%s is not empty (it holds %s): import and restore only into a new data directory", d, e.Name())
			}
		}
	}
	return nil
}

// removeSeeded removes what Seed wrote (the directories were empty but for myid and
// zoo.cfg).
func removeSeeded(cfg ensemble.Config) {
	for _, d := range []string{cfg.DataDir, cfg.DataLogDir} {
		if d == "" {
			continue
		}
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if e.Name() != "myid" && e.Name() != "zoo.cfg" {
				os.RemoveAll(filepath.Join(d, e.Name()))
			}
		}
	}
}

// readNodeTree reads a node's tree: from the running node through its admin socket,
// or from the data directory of a stopped one.
func readNodeTree(cfg ensemble.Config, errOut io.Writer) (*datatree.Tree, string, error) {
	if _, err := os.Stat(adminSocket(cfg.DataDir)); err == nil {
		tmp, err := os.CreateTemp("", "zkraft-export-")
		if err != nil {
			return nil, "", err
		}
		defer os.Remove(tmp.Name())
		defer tmp.Close()
		if _, _, err := fetchBackup(cfg.DataDir, tmp); err == nil {
			if _, err := tmp.Seek(0, io.SeekStart); err != nil {
				return nil, "", err
			}
			t, err := datatree.Restore(bufio.NewReaderSize(tmp, 1<<20))
			return t, "the running node (a consistent snapshot)", err
		} else {
			fmt.Fprintf(errOut, "no running node answers on %s (%v); reading the data directory\n", adminSocket(cfg.DataDir), err)
		}
	}
	t, err := ensemble.ReadDataDir(cfg.DataDir, cfg.DataLogDir)
	return t, "the data directory " + cfg.DataDir, err
}

func exportCmd() *cobra.Command {
	var (
		to     string
		node   nodeTarget
		backup string
	)
	cmd := &cobra.Command{
		Use:   "export --to <dir> [--data-dir <zkraft dataDir> | --config zoo.cfg | --backup <file>]",
		Short: "Write a zkraft node's tree as a ZooKeeper data directory",
		Long: `Write the tree of a zkraft node (running: a consistent snapshot through its admin
socket; stopped: its data directory; or a backup file) as a ZooKeeper 3.8 data directory:
<dir>/version-2/snapshot.<zxid> with every znode, ACL, Stat and open session, and the
currentEpoch and acceptedEpoch files a quorum server needs. A ZooKeeper server started with
dataDir=<dir> serves the same tree (TTL nodes need extendedTypesEnabled=true there). zkraft's
session passwords are not ZooKeeper's: clients open new sessions, and the old ones expire.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return errors.New("give --to, the ZooKeeper dataDir to write")
			}
			out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
			var t *datatree.Tree
			var src string
			if backup != "" {
				var err error
				if t, err = readBackup(backup); err != nil {
					return err
				}
				src = "the backup " + backup
			} else {
				cfg, err := node.resolve(cmd, "data-dir")
				if err != nil {
					return err
				}
				if t, src, err = readNodeTree(cfg, errOut); err != nil {
					return err
				}
			}
			res, err := zkdata.Export(to, t.Snapshot())
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "exported %s: %d znodes, %d sessions, zxid %#x, digest %d\n", src, res.Nodes, res.Sessions, res.Zxid, res.Digest)
			fmt.Fprintf(out, "wrote %s (and currentEpoch, acceptedEpoch %d)\n", res.Snapshot, res.Epoch)
			if res.TTLNodes > 0 {
				fmt.Fprintf(out, "note: %d TTL znodes: run ZooKeeper with extendedTypesEnabled=true, or it deletes them at load\n", res.TTLNodes)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the ZooKeeper dataDir to write (new or empty)")
	cmd.Flags().StringVar(&backup, "backup", "", "export this backup file instead of a node")
	node.flags(cmd, "data-dir", "the zkraft node's data directory")
	return cmd
}

func readBackup(path string) (*datatree.Tree, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t, err := datatree.Restore(f)
	if err != nil {
		return nil, fmt.Errorf("backup %s: %w", path, err)
	}
	return t, nil
}

func backupCmd() *cobra.Command {
	var (
		to   string
		node nodeTarget
	)
	cmd := &cobra.Command{
		Use:   "backup --to <file> (--data-dir <running node's dataDir> | --config zoo.cfg)",
		Short: "Write a consistent snapshot of a running node to a file",
		Long: `Ask the node running on a data directory (through the admin socket zkraft.sock there,
open to whoever may read the directory) for a consistent snapshot of its tree, taken
without stopping writes, and write it to a file (synced, then renamed into place). Any
member of an ensemble gives a state the ensemble committed. zkraft restore seeds new
data directories from it; zkraft export --backup turns it into a ZooKeeper data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if to == "" {
				return errors.New("give --to, the backup file")
			}
			cfg, err := node.resolve(cmd, "data-dir")
			if err != nil {
				return err
			}
			var zxid int64
			var nodes int
			start := time.Now()
			err = writeFileAtomic(to, func(w io.Writer) error {
				var err error
				zxid, nodes, err = fetchBackup(cfg.DataDir, w)
				return err
			})
			if err != nil {
				return fmt.Errorf("backup: %w", err)
			}
			t, err := readBackup(to) // check what landed on disk
			if err != nil {
				os.Remove(to)
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "backup %s: zxid %#x, %d znodes, %d sessions, digest %d, in %s\n",
				to, zxid, nodes, len(t.Sessions()), zkdata.RecordsDigest(t.Snapshot().Nodes()), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the backup file to write")
	node.flags(cmd, "data-dir", "the running node's data directory")
	return cmd
}

func restoreCmd() *cobra.Command {
	var (
		from string
		to   nodeTarget
	)
	cmd := &cobra.Command{
		Use:   "restore --from <backup> (--to <new dataDir> | --config zoo.cfg)",
		Short: "Seed a new data directory from a backup",
		Long: `Seed a new, empty data directory from a backup file written by zkraft backup. The node
starts with the backup's tree, zxid and sessions (they expire unless their clients
resume them). For an ensemble, restore the same backup into every member's data
directory (--config with each member's zoo.cfg) before starting any of them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if from == "" {
				return errors.New("give --from, the backup file")
			}
			cfg, err := to.resolve(cmd, "to")
			if err != nil {
				return err
			}
			if err := checkTargetEmpty(cfg); err != nil {
				return err
			}
			t, err := readBackup(from)
			if err != nil {
				return err
			}
			snap := t.Snapshot()
			// A new ensemble: the backup's members and the servers its sessions were
			// connected to mean nothing there.
			sessions := snap.Sessions()
			for i := range sessions {
				sessions[i].Owner, sessions[i].Stream, sessions[i].StreamSeq = 0, 0, 0
			}
			fresh, err := datatree.Build(snap.Zxid(), sessions, snap.Nodes())
			if err != nil {
				return err
			}
			if err := ensemble.Seed(cfg, fresh); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "restored %s into %s: zxid %#x, %d znodes, %d sessions, digest %d\n",
				from, cfg.DataDir, int64(snap.Zxid()), snap.NodeCount(), len(sessions), zkdata.RecordsDigest(snap.Nodes()))
			return nil
		},
	}
	cmd.Flags().StringVar(&from, "from", "", "the backup file")
	to.flags(cmd, "to", "the new data directory")
	return cmd
}
