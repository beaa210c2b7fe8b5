package ensemble

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zkraft/zkraft/storage/datatree"
)

func TestSnapshotGap(t *testing.T) {
	for _, c := range []struct {
		snapCount uint64
		nodes     int
		want      uint64
	}{
		{100_000, 10, 100_000},
		{100_000, 1_000_000, 100_000},
		{8192, 1_000_000, 100_000},
		{100_000, 5_000_000, 500_000},
		{200_000, 1_000_000, 200_000}, // an operator's larger snapCount stands
	} {
		if got := snapshotGap(c.snapCount, c.nodes); got != c.want {
			t.Errorf("snapshotGap(%d, %d) = %d, want %d", c.snapCount, c.nodes, got, c.want)
		}
	}
	// As ZooKeeper's snapCount: from half the gap to all of it.
	for _, c := range []struct {
		gap    uint64
		jitter float64
		want   uint64
	}{{100_000, 0, 50_000}, {100_000, 0.5, 75_000}, {100_000, 0.99999, 99_999}, {1, 0, 1}, {2, 0, 1}} {
		if got := jittered(c.gap, c.jitter); got != c.want {
			t.Errorf("jittered(%d, %v) = %d, want %d", c.gap, c.jitter, got, c.want)
		}
	}
}

// A burst of writes leaves no more of the log past the last snapshot than the gap
// (plus what arrives while Raft next checks): Raft used to check only every
// 10 ticks, so a restart replayed whatever the write rate had piled up meanwhile. The
// gap follows the tree: with 2,000 znodes and snapCount 50 it is 200 entries (100 to
// 200 with the member's jitter).
func TestLogPastSnapshotBounded(t *testing.T) {
	s := startTest(t, func(c *Config) { c.DataDir = t.TempDir(); c.SnapshotThreshold = 50 })
	c := dial(t, s)
	// Pipelined creates, so that the burst outruns Raft's check.
	const n = 2000
	errs := make([]<-chan error, 0, n)
	for i := range n {
		ch := make(chan error, 1)
		go func(i int) {
			_, err := c.Create("/n"+strconv.Itoa(i), nil, 0, zk.WorldACL(zk.PermAll))
			ch <- err
		}(i)
		errs = append(errs, ch)
	}
	for _, ch := range errs {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	want := jittered(snapshotGap(50, n+2), s.snapJitter)
	eventually(t, fmt.Sprintf("snapshot threshold %d", want), func() bool {
		return s.raft.ReloadableConfig().SnapshotThreshold == want && s.raft.ReloadableConfig().TrailingLogs == want
	})
	// Raft checks every snapshotCheck to twice that: by then it has snapshotted
	// whatever exceeded the gap.
	time.Sleep(3 * snapshotCheck)
	last, err := strconv.ParseUint(s.raft.Stats()["last_log_index"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := strconv.ParseUint(s.raft.Stats()["last_snapshot_index"], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	if snap == 0 || last-snap > want {
		t.Fatalf("log past the last snapshot: %d entries (last %d, snapshot %d), want at most %d", last-snap, last, snap, want)
	}
}

// zkraft.snapshotFormat=2: an upgraded member writes snapshots that members not yet
// upgraded (which read formats 1 and 2) can install.
func TestSnapshotFormatSetting(t *testing.T) {
	for _, format := range []uint32{2, 0} {
		s := startTest(t, func(c *Config) { c.DataDir = t.TempDir(); c.SnapshotFormat = format })
		c := dial(t, s)
		if _, err := c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		f := s.raft.Snapshot()
		if err := f.Error(); err != nil {
			t.Fatal(err)
		}
		_, rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := uint32(datatree.SnapshotFormat)
		if format != 0 {
			want = format
		}
		const magicLen = 8
		if len(b) < magicLen+4 {
			t.Fatalf("snapshot of %d bytes", len(b))
		}
		if got := binary.BigEndian.Uint32(b[magicLen:]); got != want {
			t.Fatalf("format setting %d: snapshot written in format %d, want %d", format, got, want)
		}
		tr, err := datatree.Restore(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if data, _, code := tr.GetData("/a", nil); code != 0 || string(data) != "x" {
			t.Fatalf("restored /a = %q, error code %d", data, code)
		}
	}
}
