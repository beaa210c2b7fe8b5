// Package testkit is what zkraft's tests need to run other programs: the zkraft binary
// built once (BuildZkraft, RunWithZkraft), child processes that are always killed and
// reaped (Start, RunGroup) with a race-safe output buffer, free loopback ports
// (FreePorts, FreeAddr), four-letter words (FourLetter, WaitFourLetter), pytest under
// Debian's python3 (RunPytest) and the reference Apache ZooKeeper (StartZooKeeper).
//
// These used to be written again in each test package (cmd/zkraft, integration,
// integration/ensemble, integration/clients/..., integration/diff, recipes); one copy
// keeps the hard parts (process groups, reaping, the JVM's death with the test binary)
// right everywhere. It is a non-test package under integration/ so that cmd/zkraft's
// and recipes' tests may import it too; zkproto, storage, ensemble and recipes
// themselves must not (integration/layout_test.go), and ensemble/ensembletest keeps its
// own free-port helper for that reason.
package testkit
