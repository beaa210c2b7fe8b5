package zkdata

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/zkraft/zkraft/storage/datatree"
)

// ExportResult says what Export wrote.
type ExportResult struct {
	Snapshot string // the snapshot file
	Zxid     int64
	Epoch    int64 // written to currentEpoch and acceptedEpoch
	Nodes    int
	Sessions int
	TTLNodes int
	Digest   uint64
}

// Export writes a zkraft tree as a ZooKeeper data directory: dir/version-2/
// snapshot.<zxid> and the currentEpoch and acceptedEpoch files (the zxid's epoch)
// that a quorum server reads. dir must hold no version-2 files yet.
func Export(dir string, snap *datatree.Snapshot) (*ExportResult, error) {
	v2 := filepath.Join(dir, "version-2")
	if entries, err := os.ReadDir(v2); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s is not empty: export only into a new ZooKeeper data directory", v2)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(v2, 0o750); err != nil {
		return nil, err
	}
	zxid := int64(snap.Zxid())
	res := &ExportResult{Zxid: zxid, Epoch: zxid >> 32, Snapshot: filepath.Join(v2, fmt.Sprintf("snapshot.%x", zxid))}
	sessions := map[int64]int32{}
	for _, s := range snap.Sessions() {
		sessions[int64(s.ID)] = s.Timeout
	}
	res.Sessions = len(sessions)
	for r := range snap.Nodes() {
		res.Nodes++
		if kind, _ := datatree.OwnerKind(r.EphemeralOwner); kind == "ttl" {
			res.TTLNodes++
		}
	}
	f, err := os.OpenFile(res.Snapshot, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o640)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	digest, err := WriteSnapshot(bw, zxid, sessions, snap.Nodes())
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(res.Snapshot)
		return nil, fmt.Errorf("write %s: %w", res.Snapshot, err)
	}
	res.Digest = digest
	for _, name := range []string{"currentEpoch", "acceptedEpoch"} {
		if err := os.WriteFile(filepath.Join(v2, name), []byte(strconv.FormatInt(res.Epoch, 10)), 0o640); err != nil {
			return nil, err
		}
	}
	return res, nil
}
