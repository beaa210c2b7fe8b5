package ensemble

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// rpcGuard is the Raft transport with a check of every RPC before Raft takes it.
// hashicorp/raft trusts its peers: an AppendEntries whose entries do not follow its
// PrevLogEntry leaves a gap in the log that the commit path then panics on ("log not
// found"), an entry of an unknown type panics when applied, and a configuration that
// does not decode panics where it is read. Only members reach Raft (peergate.go,
// sslQuorum), but a member's host may run anything, and a member must not be
// crashed by what it is sent: such an RPC is answered with an error, logged, and
// never reaches Raft.
type rpcGuard struct {
	noPipeline
	out   chan raft.RPC
	log   *slog.Logger
	quiet *quietLog
}

func newRPCGuard(t noPipeline, log *slog.Logger, quiet *quietLog) *rpcGuard {
	return &rpcGuard{noPipeline: t, out: make(chan raft.RPC), log: log, quiet: quiet}
}

// Consumer is where Raft takes its RPCs: the checked ones.
func (g *rpcGuard) Consumer() <-chan raft.RPC { return g.out }

// run passes the transport's RPCs on to Raft, refusing the malformed ones, until done.
func (g *rpcGuard) run(done <-chan struct{}) {
	in := g.noPipeline.Consumer()
	for {
		select {
		case rpc := <-in:
			if err := checkRPC(rpc.Command); err != nil {
				if ok, n := g.quiet.allow("malformed raft rpc", time.Now()); ok {
					g.log.Warn("peer port: refused a malformed Raft RPC", "rpc", fmt.Sprintf("%T", rpc.Command), "err", err, "repeats", n)
				}
				rpc.Respond(nil, err)
				continue
			}
			select {
			case g.out <- rpc:
			case <-done:
				rpc.Respond(nil, raft.ErrRaftShutdown)
				return
			}
		case <-done:
			return
		}
	}
}

var errMalformedRPC = errors.New("zkraft: malformed Raft RPC")

// checkRPC finds what in an RPC would make hashicorp/raft panic.
func checkRPC(cmd any) error {
	switch req := cmd.(type) {
	case *raft.AppendEntriesRequest:
		prevTerm := uint64(0)
		for i, e := range req.Entries {
			switch {
			case e == nil:
				return fmt.Errorf("%w: entry %d is empty", errMalformedRPC, i)
			case e.Index != req.PrevLogEntry+1+uint64(i):
				return fmt.Errorf("%w: entry %d has index %d after previous index %d", errMalformedRPC, i, e.Index, req.PrevLogEntry)
			case e.Term > req.Term || e.Term < prevTerm:
				return fmt.Errorf("%w: entry %d has term %d (request term %d, previous entry's %d)", errMalformedRPC, i, e.Term, req.Term, prevTerm)
			}
			prevTerm = e.Term
			switch e.Type {
			case raft.LogCommand, raft.LogNoop, raft.LogBarrier:
			case raft.LogConfiguration:
				if err := decodeConfiguration(e.Data); err != nil {
					return fmt.Errorf("%w: entry %d: %v", errMalformedRPC, i, err)
				}
			default: // unknown, or the deprecated peer changes no member of ours sends
				return fmt.Errorf("%w: entry %d has type %v", errMalformedRPC, i, e.Type)
			}
		}
	case *raft.InstallSnapshotRequest:
		if req.Size < 0 {
			return fmt.Errorf("%w: snapshot size %d", errMalformedRPC, req.Size)
		}
		if req.SnapshotVersion > 0 {
			if err := decodeConfiguration(req.Configuration); err != nil {
				return fmt.Errorf("%w: snapshot: %v", errMalformedRPC, err)
			}
		}
	}
	return nil
}

// decodeConfiguration tells whether raft.DecodeConfiguration, which panics on bad
// input, takes buf.
func decodeConfiguration(buf []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("configuration does not decode: %v", r)
		}
	}()
	raft.DecodeConfiguration(buf)
	return nil
}
