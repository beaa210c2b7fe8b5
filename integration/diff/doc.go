// Package diff holds the differential tests of zkraft against a reference Apache
// ZooKeeper 3.8.0 (Debian's zookeeper package, run as ZooKeeperServerMain on
// loopback): every scenario runs once against each server and the normalized
// transcripts must be equal, except for the documented allow-list. Run it with
// `go test -race ./integration/diff/`; java and the zookeeper jars are required.
// See docs/compatibility.md.
package diff
