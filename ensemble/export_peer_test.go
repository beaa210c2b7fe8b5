package ensemble

// RaftLastIndex is the index of the last entry in this member's Raft log.
func (s *Server) RaftLastIndex() uint64 { return s.raft.LastIndex() }
