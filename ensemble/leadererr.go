package ensemble

import (
	"context"
	"errors"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zkraft/zkraft/zkproto"
)

// Errors of the requests that go to the leader (proposals, sync, reconfig), the same
// whether this member leads or forwards them: a follower receives the leader's failure
// with its kind, so it acts on it as the leader would.
//
//	errors.Is(err, errNoLeader)       no leader took it, or the leader went away: retry once one is known
//	errors.Is(err, errOutcomeUnknown) the leader went away with it in flight: it may or may not
//	                                  commit, so retry only what is idempotent
//	errors.As(err, &code)             a zkproto.ErrCode to answer the client with
var (
	errNoLeader       = errors.New("ensemble: no leader: the ensemble has no quorum")
	errOutcomeUnknown = errors.New("ensemble: the leader went away with the request in flight: it may or may not commit")
)

// leaderErrKind classifies a leaderError. Its values travel in forwarding replies:
// never renumber them.
type leaderErrKind byte

const (
	kindUnclassified   leaderErrKind = 0 // a reply from a leader that sent no kind (an older version)
	kindOther          leaderErrKind = 1 // anything else (a full disk, ...): the message says what
	kindNoLeader       leaderErrKind = 2 // no leader took the request: it did not commit
	kindOutcomeUnknown leaderErrKind = 3 // taken, then leadership was lost: it may have committed
	kindCode           leaderErrKind = 4 // a ZooKeeper error code
)

// leaderError is a failure of a request to the leader, classified.
type leaderError struct {
	kind  leaderErrKind
	code  zkproto.ErrCode // for kindCode
	msg   string
	cause error // the local error it classifies; nil when it came from the leader
}

func (e *leaderError) Error() string { return e.msg }

// Is makes errors.Is(err, errNoLeader) and errors.Is(err, errOutcomeUnknown) hold by
// kind, for errors raised here and for those forwarded from the leader alike.
func (e *leaderError) Is(target error) bool {
	switch target {
	case errNoLeader:
		return e.kind == kindNoLeader || e.kind == kindOutcomeUnknown
	case errOutcomeUnknown:
		return e.kind == kindOutcomeUnknown
	}
	return false
}

func (e *leaderError) Unwrap() []error {
	var errs []error
	if e.cause != nil {
		errs = append(errs, e.cause)
	}
	if e.kind == kindCode {
		errs = append(errs, e.code)
	}
	return errs
}

// classify says what kind of failure err is, and its ZooKeeper code if it has one.
func classify(err error) (leaderErrKind, zkproto.ErrCode) {
	var le *leaderError
	var code zkproto.ErrCode
	switch {
	case errors.As(err, &le):
		return le.kind, le.code
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress),
		errors.Is(err, errNoLeader):
		return kindNoLeader, zkproto.ErrOK
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrRaftShutdown),
		errors.Is(err, ErrClosed):
		return kindOutcomeUnknown, zkproto.ErrOK
	case errors.As(err, &code) && code != zkproto.ErrOK:
		return kindCode, code
	}
	return kindOther, zkproto.ErrOK
}

// leaderErr classifies an error of a request to the leader raised on this member (by
// Raft on the leader, or by the forwarding connection on a follower).
func leaderErr(err error) error {
	if err == nil {
		return nil
	}
	var le *leaderError
	if errors.As(err, &le) {
		return err
	}
	kind, code := classify(err)
	return &leaderError{kind: kind, code: code, msg: err.Error(), cause: err}
}

// leaderWait is how long a request waits for a leader change to finish before it
// fails: a few elections' worth, and never less than the 2 s ZooKeeper's members wait
// for a leader before declaring themselves without quorum.
func (s *Server) leaderWait() time.Duration {
	return max(2*time.Second, 5*s.cfg.TickTime)
}

// rideOutLeaderChange runs op until it succeeds, fails for another reason than a
// missing or lost leader, or ctx ends; between attempts it waits for a leader to be
// known. op must be safe to repeat even when an attempt may have committed
// (errOutcomeUnknown).
func (s *Server) rideOutLeaderChange(ctx context.Context, op func() error) error {
	backoff := 5 * time.Millisecond
	for {
		err := op()
		if err == nil || !errors.Is(err, errNoLeader) || errors.Is(err, ErrClosed) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-s.ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.cfg.TickTime)
	}
}
