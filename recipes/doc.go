// Package recipes holds client-side coordination recipes built on
// github.com/go-zookeeper/zk: locks (Mutex, RWMutex), Semaphore, LeaderElection,
// GroupMembership, Config, Barrier, DoubleBarrier, Queue, Counter and a
// ServiceRegistry. They work against zkraft and Apache ZooKeeper alike.
//
// Every recipe runs over a Session, which wraps a *zk.Conn and its event channel and
// turns session expiry (or a disconnection longer than the session timeout) into a
// loss the recipes report: a held lock, leadership, lease or membership has a Lost
// channel that closes then, so a caller never silently believes it still holds one.
//
// Where kazoo or Curator have the same recipe, the znode layout is theirs, so a Go
// process, a kazoo process and a Curator process on the same path contend fairly;
// each type's documentation says which layout it follows. Contenders are ordered by
// the numeric sequence suffix, never by their full name.
//
// This package imports go-zookeeper/zk and the standard library only; it must not
// import zkraft's server packages (its tests may).
package recipes
