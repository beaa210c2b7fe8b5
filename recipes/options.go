package recipes

import "github.com/go-zookeeper/zk"

// Layout selects whose node names a lock-like recipe writes.
type Layout int

const (
	// LayoutKazoo names contender nodes "<32 hex digits>__lock__<seq>", as kazoo's
	// Lock, WriteLock and Election do ("__rlock__" for kazoo's ReadLock).
	LayoutKazoo Layout = iota
	// LayoutCurator names contender nodes with Curator's protected prefix,
	// "_c_<uuid>-lock-<seq>" (InterProcessMutex) or "_c_<uuid>-latch-<seq>"
	// (LeaderLatch).
	LayoutCurator
)

type options struct {
	layout Layout
	data   []byte
	acl    []zk.ACL
}

// Option configures a recipe.
type Option func(*options)

// WithLayout selects the node naming (default LayoutKazoo).
func WithLayout(l Layout) Option { return func(o *options) { o.layout = l } }

// WithData sets the data written to the recipe's own node (kazoo calls it the
// identifier; Curator's LeaderLatch calls it the participant id).
func WithData(data []byte) Option { return func(o *options) { o.data = data } }

// WithACL sets the ACL of nodes the recipe creates (default world:anyone all).
func WithACL(acl []zk.ACL) Option { return func(o *options) { o.acl = acl } }

func buildOptions(s *Session, opts []Option) options {
	o := options{acl: s.acl}
	for _, f := range opts {
		f(&o)
	}
	return o
}
