package recipes

import (
	"errors"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// Errors the recipes return.
var (
	// ErrSessionLost means the ZooKeeper session ended (expired, closed, or
	// disconnected for longer than its timeout) while the recipe depended on it.
	ErrSessionLost = errors.New("recipes: session lost")
	// ErrNotHeld means Unlock, Resign or Release was called on something not held.
	ErrNotHeld = errors.New("recipes: not held")
	// ErrLost means the lock, leadership or lease was lost before the operation.
	ErrLost = errors.New("recipes: lost")
	// ErrVersionConflict means a compare-and-set lost to a concurrent writer.
	ErrVersionConflict = errors.New("recipes: version conflict")
	// ErrEmpty means a non-blocking queue read found no entry.
	ErrEmpty = errors.New("recipes: queue empty")
	// ErrClosed means the Session was closed.
	ErrClosed = errors.New("recipes: session closed")
)

// Conn is the part of *zk.Conn the recipes use. *zk.Conn implements it; tests wrap
// it to count calls or inject failures.
type Conn interface {
	Create(path string, data []byte, flags int32, acl []zk.ACL) (string, error)
	Delete(path string, version int32) error
	Exists(path string) (bool, *zk.Stat, error)
	ExistsW(path string) (bool, *zk.Stat, <-chan zk.Event, error)
	Get(path string) ([]byte, *zk.Stat, error)
	GetW(path string) ([]byte, *zk.Stat, <-chan zk.Event, error)
	Children(path string) ([]string, *zk.Stat, error)
	ChildrenW(path string) ([]string, *zk.Stat, <-chan zk.Event, error)
	Set(path string, data []byte, version int32) (*zk.Stat, error)
	Multi(ops ...interface{}) ([]zk.MultiResponse, error)
	SessionID() int64
	State() zk.State
}

var _ Conn = (*zk.Conn)(nil)

// Session is a ZooKeeper session as the recipes see it: a connection and the
// lifetime of the session behind it. Each session the client holds is an epoch;
// when it ends (StateExpired, the connection closed, or no connection for longer
// than the session timeout) the epoch's Done channel closes and the recipes report
// everything they held in it as lost. go-zookeeper then opens a new session by
// itself, which starts a new epoch.
type Session struct {
	conn    Conn
	owned   *zk.Conn
	timeout time.Duration
	acl     []zk.ACL

	mu     sync.Mutex
	cur    *epoch
	closed chan struct{}
	done   chan struct{}
	once   sync.Once
}

type epoch struct {
	done chan struct{}
	once sync.Once
}

func newEpoch() *epoch { return &epoch{done: make(chan struct{})} }

func (e *epoch) end() { e.once.Do(func() { close(e.done) }) }

func (e *epoch) ended() bool {
	select {
	case <-e.done:
		return true
	default:
		return false
	}
}

// Connect dials servers with go-zookeeper and wraps the connection in a Session
// that owns it: Close closes the connection. opts are go-zookeeper's connection
// options (zk.WithLogInfo, zk.WithDialer, ...).
func Connect(servers []string, timeout time.Duration, opts ...func(*zk.Conn)) (*Session, error) {
	conn, events, err := zk.Connect(servers, timeout, func(c *zk.Conn) {
		for _, o := range opts {
			o(c)
		}
	})
	if err != nil {
		return nil, err
	}
	s := NewSession(conn, events, timeout)
	s.owned = conn
	return s, nil
}

// NewSession wraps an existing connection. events must be the channel zk.Connect
// returned for conn (the Session consumes it) and timeout the session timeout that
// was asked for: a disconnection longer than that is treated as a lost session,
// because the server will have expired it.
func NewSession(conn Conn, events <-chan zk.Event, timeout time.Duration) *Session {
	s := &Session{
		conn:    conn,
		timeout: timeout,
		acl:     zk.WorldACL(zk.PermAll),
		cur:     newEpoch(),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	go s.run(events)
	return s
}

// Conn returns the connection the recipes use.
func (s *Session) Conn() Conn { return s.conn }

// Close stops watching the session, ends the current epoch (so everything held is
// reported lost) and closes the connection if the Session owns it.
func (s *Session) Close() {
	s.once.Do(func() {
		close(s.closed)
		if s.owned != nil {
			s.owned.Close()
		}
		<-s.done
		s.epoch().end()
	})
}

// epoch returns the current session epoch.
func (s *Session) epoch() *epoch {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur
}

// Done returns a channel that closes when the current ZooKeeper session ends.
func (s *Session) Done() <-chan struct{} { return s.epoch().done }

func (s *Session) rotate() {
	s.mu.Lock()
	old := s.cur
	if old.ended() {
		s.mu.Unlock()
		return
	}
	s.cur = newEpoch()
	s.mu.Unlock()
	old.end()
}

func (s *Session) run(events <-chan zk.Event) {
	defer close(s.done)
	var timer *time.Timer
	var fire <-chan time.Time
	stop := func() {
		if timer != nil {
			timer.Stop()
			timer, fire = nil, nil
		}
	}
	defer stop()
	var sid int64
	for {
		select {
		case <-s.closed:
			return
		case <-fire:
			// No connection for a whole session timeout: the server has expired us
			// (or will before we can tell). Everything held in this session is lost.
			timer, fire = nil, nil
			s.rotate()
		case ev, ok := <-events:
			if !ok {
				s.epoch().end()
				return
			}
			if ev.Type != zk.EventSession {
				continue
			}
			switch ev.State {
			case zk.StateDisconnected:
				if timer == nil {
					timer = time.NewTimer(s.timeout)
					fire = timer.C
				}
			case zk.StateExpired:
				stop()
				sid = 0
				s.rotate()
			case zk.StateHasSession:
				stop()
				id := s.conn.SessionID()
				if sid != 0 && id != sid {
					s.rotate() // a new session: the old one is gone
				}
				sid = id
				s.mu.Lock()
				if s.cur.ended() {
					s.cur = newEpoch()
				}
				s.mu.Unlock()
			}
		}
	}
}
