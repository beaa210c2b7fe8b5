package ensemble

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/zkproto"
)

// Members compare their trees as they apply the log, as ZooKeeper 3.6+ does with
// zookeeper.digest.enabled: every digestInterval Raft indexes each member records its
// tree's digest (datatree.Tree.Digest) and zxid at the first command entry it applies
// from that index on, and the leader proposes its record as an entryDigest. A member
// that recorded the same index and finds another digest or zxid has diverged from the
// leader: it says so at once, with the index, instead of serving a different tree
// until a client notices. (Which side is wrong cannot be told from one comparison, so
// the member logs and counts the mismatch, as ZooKeeper does, rather than stop.)
const digestInterval = 512

// entryDigest is a Raft log entry carrying the leader's digest record; it changes no
// state. Layout: type, version, index, zxid, digest.
const (
	entryDigest        byte = 2
	entryDigestVersion byte = 1
	entryDigestLen          = 2 + 8 + 8 + 8
)

// digestRecord is a member's tree digest and zxid right after applying index.
type digestRecord struct {
	index  uint64
	zxid   zkproto.Zxid
	digest uint64
}

func encodeDigest(r digestRecord) []byte {
	b := make([]byte, 2, entryDigestLen)
	b[0], b[1] = entryDigest, entryDigestVersion
	b = binary.BigEndian.AppendUint64(b, r.index)
	b = binary.BigEndian.AppendUint64(b, uint64(r.zxid))
	return binary.BigEndian.AppendUint64(b, r.digest)
}

func decodeDigest(b []byte) (digestRecord, error) {
	if len(b) != entryDigestLen || b[0] != entryDigest || b[1] != entryDigestVersion {
		return digestRecord{}, fmt.Errorf("digest entry of %d bytes, version %d, is unknown to this zkraft version", len(b), b[1])
	}
	return digestRecord{
		index:  binary.BigEndian.Uint64(b[2:]),
		zxid:   zkproto.Zxid(binary.BigEndian.Uint64(b[10:])),
		digest: binary.BigEndian.Uint64(b[18:]),
	}, nil
}

// digestRing holds a member's last records, by index. Only the FSM goroutine uses it.
type digestRing struct {
	next    uint64 // record at the first command entry at or past this index
	records [16]digestRecord
}

func (r *digestRing) slot(index uint64) *digestRecord {
	return &r.records[(index/digestInterval)%uint64(len(r.records))]
}

// due reports whether the entry at index is the one to record.
func (r *digestRing) due(index uint64) bool { return index >= r.next }

func (r *digestRing) record(rec digestRecord) {
	*r.slot(rec.index) = rec
	r.next = (rec.index/digestInterval + 1) * digestInterval
}

// lookup returns this member's record of index, if it still has it.
func (r *digestRing) lookup(index uint64) (digestRecord, bool) {
	rec := *r.slot(index)
	return rec, rec.index == index && index != 0
}

// reset forgets the records: a restored snapshot replaced the tree they describe.
func (r *digestRing) reset() { *r = digestRing{} }

// proposeDigests is the leader's side: it proposes the records its FSM makes while
// this member leads. It runs for the server's life.
func (s *Server) proposeDigests() {
	for {
		select {
		case <-s.ctx.Done():
			return
		case rec := <-s.digests:
			if s.raft.State() != raft.Leader {
				continue
			}
			// The outcome does not matter: a record that is not committed is not
			// compared. Nor is it awaited: Raft may drop a future when it shuts down
			// (see proposal.wait), and one record per digestInterval entries cannot
			// pile up.
			s.raft.Apply(encodeDigest(rec), 5*time.Second)
		}
	}
}

// onDigest hands a record the FSM made to proposeDigests when this member leads.
func (s *Server) onDigest(rec digestRecord) {
	if !s.leader.Load() {
		return
	}
	select {
	case s.digests <- rec:
	default: // proposals are behind: skip this one, the next comes digestInterval later
	}
}

// onDigestMismatch reports that this member's tree differs from the leader's.
func (s *Server) onDigestMismatch(ours, leaders digestRecord) {
	s.obs.metrics.DigestMismatches.Inc()
	s.log.Error("this member's tree differs from the leader's: both applied the same log up to this index, so one of them applied an entry differently or skipped one; "+
		"compare the members' trees (zkraft compat or a digest of each) and remove the member that is wrong (reconfig -remove), empty its data directory and add it back",
		"raft_index", ours.index, "zxid", ours.zxid, "digest", fmt.Sprintf("%016x", ours.digest),
		"leader_zxid", leaders.zxid, "leader_digest", fmt.Sprintf("%016x", leaders.digest))
}
