package fourletter

import "runtime/debug"

// memLimit is the runtime's current soft memory limit: GOMEMLIMIT, or the limit
// zkraft serve's GC policy moves after each GC (cmd/zkraft/gcpolicy.go);
// math.MaxInt64 when there is none. envi reports it as os.memory.max.
func memLimit() int64 { return debug.SetMemoryLimit(-1) }
