// Package ensembleproc runs a zkraft ensemble as separate processes (zkraft serve
// --config zoo.cfg, one per member, on loopback ports) for tests that kill, stop,
// restart and partition members: integration/ensemble and integration/chaos.
// Optionally every member's peer traffic goes through a userspace proxy (Network)
// that can cut links between members.
//
// It is test support: only tests import it.
package ensembleproc
