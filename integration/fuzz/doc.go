// Package fuzz is a seeded differential fuzzer of zkraft against the reference
// Apache ZooKeeper 3.8.0. Generate draws a Program from a seed: random operations of
// every op code over several sessions, on a small namespace so that they collide,
// with every create mode, ACLs of every scheme, authenticated and anonymous
// sessions, one-shot and persistent watches, multi and multiRead, requests
// pipelined on one connection, and session close, expiry and resume. Lockstep runs
// it step by step on two targets (the reference, and a zkraft node or ensemble),
// comparing what every session observes (replies, Stats with zxids by order, watch
// events) and, now and then, the whole tree. A difference is shrunk (Shrink) to a
// small Program and written as a repro file that TestReplay plays on both servers.
//
// A difference that two more runs of the same program do not show is timing, not
// behaviour (class flaky): two independent servers under the same load do not expire
// a session whose resume came late, reap a container, or lose a leader at the same
// instant. It is written down whole with both servers' last log lines and does not
// fail a run; a difference that shows again is shrunk and classified, and one of class
// new fails TestFuzzLong.
//
// `make test` runs a few fixed seeds (TestFuzzShort); `make fuzz-diff` runs fresh
// seeds for FUZZ_DURATION (TestFuzzLong) and prints each seed, so that a failure
// can be replayed with -fuzz.seed. Test support only: nothing outside integration
// may import it.
package fuzz
