package ensemble

// Inspection for the external tests of this package.

// ProposalsAwaited counts this member's own entries still awaited (their waiters).
func (s *Server) ProposalsAwaited() int {
	s.fsm.waitMu.Lock()
	defer s.fsm.waitMu.Unlock()
	return len(s.fsm.waiters)
}
