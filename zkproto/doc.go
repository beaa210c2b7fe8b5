// Package zkproto is the Apache ZooKeeper wire protocol: jute encoding, every
// client-visible request, response and record type, op codes, error codes, event
// types, framing and size limits.
//
// It is pure code: no sockets, no goroutines, and it imports the standard library only.
package zkproto
