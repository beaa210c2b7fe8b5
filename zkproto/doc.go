// Package zkproto is the Apache ZooKeeper wire protocol: jute encoding, every
// client-visible request, response and record type, op codes, error codes, event
// types, framing and size limits.
//
// It is pure code: no sockets, no goroutines, and it imports the standard library only.
//
// A server reads a connection with NewFrameReader(conn, maxBuffer): once
// PeekFourLetterWord, then Next for the ConnectRequest (Unmarshal into a
// ConnectRequest: it has no header), then Next + DecodeRequest for each request.
// Replies are AppendFrame(buf, &ReplyHeader{...}, body) with body from the op's
// NewResponse type, or nil when the header carries an error. Decoded records never
// alias the frame; decoding refuses lengths the frame cannot hold before
// allocating, and never panics on client input.
package zkproto
