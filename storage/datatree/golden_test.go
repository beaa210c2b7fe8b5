package datatree

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"testing"
)

// TestGoldenDigestAndSnapshot pins the digest and the snapshot bytes of a seeded
// history to the values the map-based tree (before the compact store) computed:
// members of mixed versions must agree on the digest, and a snapshot written by
// one must restore on the other.
func TestGoldenDigestAndSnapshot(t *testing.T) {
	g := newTxnGen(7)
	tr := New()
	for range 4000 {
		g.learn(tr.Apply(g.next()))
	}
	snap := tr.Snapshot()
	defer snap.Release()
	// Version 2 is what members before version 3 wrote (and still read); version 3
	// adds the digest after the zxid and each node's parent's place after its path.
	for _, c := range []struct {
		version uint32
		want    string
	}{
		{2, "digest 39355ec8a29792b0 snapshot 81ecf2d3bb8a17c5211f44fe98f8d8f30a9efa2d0f6853e5e2ec758ac986a0b1 nodes 464"},
		{3, "digest 39355ec8a29792b0 snapshot 6ea8bdb9657b0344c40dd73574690f5eae8c9664899926a1f2ff175dd31b448a nodes 464"},
	} {
		var buf bytes.Buffer
		if _, err := snap.writeTo(&buf, c.version); err != nil {
			t.Fatal(err)
		}
		got := fmt.Sprintf("digest %016x snapshot %x nodes %d", tr.Digest(), sha256.Sum256(buf.Bytes()), tr.NodeCount())
		if got != c.want {
			t.Fatalf("version %d: got  %s\nwant %s", c.version, got, c.want)
		}
		r, err := Restore(bytes.NewReader(buf.Bytes()))
		if err != nil || r.Digest() != tr.Digest() || recomputeDigest(r) != tr.Digest() {
			t.Fatalf("version %d: restore: %v, digest %x, recomputed %x", c.version, err, r.Digest(), recomputeDigest(r))
		}
		sameReads(t, tr, r)
	}
}
