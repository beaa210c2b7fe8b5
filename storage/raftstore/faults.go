package raftstore

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
)

// ErrCorrupt is wrapped by every error that reports a file failing its check.
var ErrCorrupt = errors.New("raftstore: corrupt data")

// CorruptError names a file of the data directory that failed its check.
type CorruptError struct {
	Path string // the file (or snapshot directory)
	What string // what is wrong with it
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("raftstore: %s is corrupt: %s. This member must not start on it: "+
		"remove it from the ensemble (reconfig -remove <id>), move its data directory aside and add it back (reconfig -add), "+
		"so that it copies the ensemble's state; a single server must be restored from a backup", e.Path, e.What)
}

func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// ErrWriteFailed is wrapped by the error of every write after the stores stopped
// writing (see WriteError).
var ErrWriteFailed = errors.New("raftstore: write failed")

// WriteError is the first write or sync of the data directory that failed in a way
// that may have lost data the operating system had accepted. The stores latch it and
// fail every later write with it: after a failed fsync the kernel may have dropped
// the dirty pages and marked them clean, so a retried fsync could succeed without
// writing them.
type WriteError struct {
	Op   string // what was being written ("store log entries", "set CurrentTerm", …)
	Path string
	Err  error
}

func (e *WriteError) Error() string {
	return fmt.Sprintf("raftstore: %s in %s failed: %v. This member stopped writing, because the disk may have dropped data it had accepted "+
		"(a failed fsync is not retried). Check the disk and the kernel log, then start the member again: it verifies its files at start",
		e.Op, e.Path, e.Err)
}

func (e *WriteError) Unwrap() []error { return []error{ErrWriteFailed, e.Err} }

// retryable reports whether a failed write left what was synced as it was, so that
// the write may be tried again: a write refused for lack of space (ENOSPC, EDQUOT
// from pwrite, or from growing a file before anything is written) returns before
// anything of it is synced or acknowledged. raft-wal then rolls its tail segment
// back to the last commit (the next append overwrites what the failed one left);
// bbolt (wal-meta.db) has not written the meta page that would commit the
// transaction. This is how a full disk behaves (integration TestDiskFull, and
// TestFullDiskIsRetryable here, which shows what the stores return). So are a
// snapshot's file and directory operations refused for lack of space (the
// unfinished snapshot is discarded). Every other error stops writing: EIO, and any
// error of fsync or fdatasync (bbolt returns fdatasync's bare errno), whose ENOSPC
// means that writeback failed and pages were dropped.
func retryable(err error) bool {
	var pe *os.PathError
	var le *os.LinkError
	switch {
	case errors.As(err, &pe):
		return pe.Op != "sync" && noSpace(pe.Err)
	case errors.As(err, &le):
		return noSpace(le.Err)
	}
	// bbolt formats the error of growing the file with %s: match its text.
	msg := err.Error()
	return strings.HasPrefix(msg, "file resize error: ") && strings.HasSuffix(msg, syscall.ENOSPC.Error())
}

func noSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// WriteOp describes one write of the stores, for a WriteHook. The stores' operations
// ("store logs", "delete logs", "set", "snapshot create", "snapshot write",
// "snapshot close") contain the file operations of the log ("segment create",
// "segment write", "segment sync", "segment delete", "meta commit"), which raft-wal
// also makes on its own goroutine when it starts a new segment.
type WriteOp struct {
	Kind string // what is written
	Path string // the file written (the log or snapshot directory for the stores' operations)
	Off  int64  // "segment write": where in the file
	Data []byte // "segment write": what; the hook must not keep or change it
}

// A WriteHook runs around every write the stores make: it calls write (or does not,
// and returns an error instead) and may replace its result. Fault-injection tests
// use it to fail fsyncs and to simulate a power loss; it is nil in production.
type WriteHook func(op WriteOp, write func() error) error

// latch remembers the first write error that must stop writing (or damage found
// while running, which must stop the member too).
type latch struct {
	hook     WriteHook
	mu       sync.Mutex
	err      error
	lastFile error // the last file operation that failed without stopping writes
	failed   chan struct{}
}

func newLatch(hook WriteHook) *latch { return &latch{hook: hook, failed: make(chan struct{})} }

// get is the latched error, if any.
func (l *latch) get() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// call runs write, through the hook if there is one.
func (l *latch) call(op WriteOp, write func() error) error {
	if l.hook != nil {
		return l.hook(op, write)
	}
	return write()
}

// do runs write unless an earlier write failed, and latches its error unless it is
// retryable.
func (l *latch) do(op WriteOp, what string, write func() error) error {
	if err := l.get(); err != nil {
		return err
	}
	err := l.call(op, write)
	if err == nil || retryable(err) {
		return err
	}
	return l.force(op, what, err)
}

// file runs a file operation of the log unless writing stopped, and stops writing
// when it fails unless the failure is retryable. Its error reaches raft through the
// store's operation (raft-wal returns it, or refuses the next append after a failed
// start of a new segment), which then returns the latched error naming this file.
func (l *latch) file(op WriteOp, write func() error) error {
	if err := l.get(); err != nil {
		return err
	}
	err := l.call(op, write)
	if err == nil {
		return nil
	}
	if retryable(err) {
		l.mu.Lock()
		l.lastFile = err
		l.mu.Unlock()
		return err
	}
	return l.force(op, op.Kind, err)
}

// force latches err (unless an error is latched already) and returns the latched one.
func (l *latch) force(op WriteOp, what string, err error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		var we *WriteError
		var ce *CorruptError
		switch {
		case errors.As(err, &we):
			l.err = we
		case errors.As(err, &ce):
			l.err = ce
		default:
			l.err = &WriteError{Op: what, Path: op.Path, Err: err}
		}
		close(l.failed)
	}
	return l.err
}
