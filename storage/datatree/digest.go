package datatree

import "hash/crc32"

// The tree digest is a sum, over every znode, of a hash of its path and replicated
// content (ZooKeeper's DigestCalculator, 3.6+). Every write keeps it current in O(1)
// (subtract the old node's hash, add the new one's), so that two trees that applied
// the same transactions have the same digest and members can compare theirs as they
// go: a divergence shows at the index where it happened, not when a client notices.

// Digest is the tree's digest. Restore rebuilds it from the nodes.
func (t *Tree) Digest() uint64 { return t.digest }

// nodeDigest hashes what a node replicates (FNV-1a 64 over length-prefixed fields;
// the data goes in as its CRC-32C, which the CPU computes at memory speed). The
// children index is derived from the other nodes' paths and left out.
func nodeDigest(path string, n *node) uint64 {
	h := fnv64(fnvOffset)
	h.str(path)
	h.u64(uint64(len(n.data)))
	h.u64(uint64(crc32.Checksum(n.data, castagnoli)))
	for _, a := range n.acl {
		h.u64(uint64(a.Perms))
		h.str(a.ID.Scheme)
		h.str(a.ID.ID)
	}
	for _, v := range [...]int64{int64(len(n.acl)), int64(n.czxid), int64(n.mzxid), int64(n.pzxid), n.ctime, n.mtime, n.owner,
		int64(n.version), int64(n.aversion), int64(n.cseq), int64(n.kind)} {
		h.u64(uint64(v))
	}
	return uint64(h)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

type fnv64 uint64

func (h *fnv64) str(s string) {
	h.u64(uint64(len(s)))
	x := *h
	for i := 0; i < len(s); i++ {
		x = (x ^ fnv64(s[i])) * fnvPrime
	}
	*h = x
}

// u64 hashes v's 8 bytes, little-endian.
func (h *fnv64) u64(v uint64) {
	x := *h
	for range 8 {
		x = (x ^ fnv64(byte(v))) * fnvPrime
		v >>= 8
	}
	*h = x
}
