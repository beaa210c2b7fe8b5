// Package chaos runs zkraft ensembles of 3 and 5 processes (integration/ensembleproc)
// under faults (kill -9, SIGSTOP, restarts, partitions of peer traffic through a
// proxy, reconfig) while clients run workloads, and checks what they saw: versioned
// registers with sync+read against a linearizable model (porcupine), unique
// sequential names, nothing acknowledged lost, per-session FIFO order of pipelined
// requests, sessions and ephemerals across failovers, and one tree on every member at
// the end. `make test` runs two short histories with a fixed seed; `make chaos` runs
// many (CHAOS_DURATION, CHAOS_HISTORIES, CHAOS_SEED). See chaos_test.go.
//
// Test code only: nothing imports it.
package chaos
