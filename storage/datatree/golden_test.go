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
	var buf bytes.Buffer
	if _, err := tr.Snapshot().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprintf("digest %016x snapshot %x nodes %d", tr.Digest(), sha256.Sum256(buf.Bytes()), tr.NodeCount())
	const want = "digest 39355ec8a29792b0 snapshot 81ecf2d3bb8a17c5211f44fe98f8d8f30a9efa2d0f6853e5e2ec758ac986a0b1 nodes 464"
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	r, err := Restore(bytes.NewReader(buf.Bytes()))
	if err != nil || r.Digest() != tr.Digest() {
		t.Fatalf("restore: %v, digest %x", err, r.Digest())
	}
}
