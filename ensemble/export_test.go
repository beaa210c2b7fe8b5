package ensemble

// Inspection for the external tests of this package.

// ProposalsAwaited counts this member's own entries still awaited (their waiters).
func (s *Server) ProposalsAwaited() int {
	s.fsm.waitMu.Lock()
	defer s.fsm.waitMu.Unlock()
	return len(s.fsm.waiters)
}

// Crash stops s as a crash would: without handing leadership over first, so the other
// members learn of it only when their heartbeats go unanswered. Close stays safe to
// call after it.
func Crash(s *Server) {
	s.closeOnce.Do(s.teardown)
	<-s.done
}
