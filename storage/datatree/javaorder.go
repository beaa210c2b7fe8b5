package datatree

import (
	"cmp"
	"slices"
	"unicode/utf16"

	"github.com/zkraft/zkraft/zkproto"
)

// Orders that ZooKeeper 3.8 shows clients because of its Java hash collections, and
// zkraft matches (found by integration/fuzz). Java's HashMap and ConcurrentHashMap
// iterate by bin, the key's hashCode spread (h ^ h>>>16) over the table size, and in
// insertion order within a bin; a table of 16 grows by doubling once it holds more
// than three quarters, and never shrinks.

// AuthOrder is zkAuthOrder, for whoAmI, which lists the identities in that order.
func AuthOrder(auth []zkproto.Id) []zkproto.Id { return zkAuthOrder(auth) }

// zkAuthOrder orders a connection's identities as ZooKeeper 3.8 iterates them, which
// is the order fixupACL expands the "auth" scheme in (found by integration/fuzz): its
// ServerCnxn keeps them in a set backed by a ConcurrentHashMap, which iterates by
// hash bin (Id.hashCode spread over the table), in insertion order within a bin.
// Exact while a connection has fewer than 12 identities (before the map's first
// resize, which may reorder a bin).
func zkAuthOrder(auth []zkproto.Id) []zkproto.Id {
	if len(auth) < 2 {
		return auth
	}
	// A ConcurrentHashMap resizes when its size reaches three quarters.
	n := javaTableSize(len(auth)+1, 16)
	bin := func(id zkproto.Id) int {
		h := uint32(37*(37*17+javaStringHash(id.Scheme)) + javaStringHash(id.ID))
		return int((h ^ h>>16) & 0x7fffffff & uint32(n-1))
	}
	out := slices.Clone(auth)
	slices.SortStableFunc(out, func(a, b zkproto.Id) int { return bin(a) - bin(b) })
	return out
}

// javaStringHash is Java's String.hashCode: over UTF-16 code units, in int32.
func javaStringHash(s string) int32 {
	var h int32
	for _, c := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(c)
	}
	return h
}

// zkEphemeralOrder orders a session's ephemerals (paths with their czxid) as
// ZooKeeper deletes them when the session closes, which is the order their
// NodeDeleted events go out in. Its PrepRequestProcessor lists them for the
// CloseSessionTxn from a clone of the session's HashSet: the clone is sized for the
// set's size (HashMap.putMapEntries on Java 17: tableSizeFor(size/0.75+1)) and filled
// in the set's own order (by bin in its table of at least 16, then by when each was
// added: its czxid). Exact unless the session once held more ephemerals than it does
// now across a doubling of its table (13, 25, ...): the set keeps its larger table,
// and zkraft does not record it.
func zkEphemeralOrder(paths []string, czxid func(string) zkproto.Zxid) []string {
	own := javaTableSize(len(paths), 16)
	clone := 1
	for clone < int(float32(len(paths))/0.75+1) {
		clone *= 2
	}
	spread := func(p string) uint32 {
		h := uint32(javaStringHash(p))
		return h ^ h>>16
	}
	out := slices.Clone(paths)
	slices.SortFunc(out, func(a, b string) int {
		ha, hb := spread(a), spread(b)
		if c := cmp.Compare(ha&uint32(clone-1), hb&uint32(clone-1)); c != 0 {
			return c
		}
		if c := cmp.Compare(ha&uint32(own-1), hb&uint32(own-1)); c != 0 {
			return c
		}
		return cmp.Compare(czxid(a), czxid(b))
	})
	return out
}

// javaTableSize is the table size of a Java HashMap that has held size entries.
func javaTableSize(size, initial int) int {
	n := initial
	for size > n-n/4 {
		n *= 2
	}
	return n
}
