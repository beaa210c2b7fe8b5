package fourletter

import "runtime/debug"

// memLimit is the current GOMEMLIMIT (math.MaxInt64 when unset).
func memLimit() int64 { return debug.SetMemoryLimit(-1) }
