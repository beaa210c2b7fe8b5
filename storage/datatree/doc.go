// Package datatree is zkraft's replicated state: the znode tree, the session table and
// the zxid counter. Apply is deterministic: no clock, randomness or node-local state.
//
// It imports zkproto and the standard library only.
package datatree
