// Package fourletter formats ZooKeeper's four-letter-word replies (srvr, stat, mntr,
// cons, conf, envi, wchs/wchc/wchp, dump, isro, dirs, ...) line for line as 3.8 does.
//
// It is pure formatting: the server gathers numbers into the structs here and
// implements Source. It must not import ensemble, storage or any network code.
//
// Deliberate differences from ZooKeeper 3.8.0:
//   - The build date is "built on MM/DD/YYYY HH:MM GMT" (3.8 prints
//     "built on 2022-02-25 08:49 UTC"), because go-zookeeper v1.0.4's FLWSrvr only
//     accepts the older layout; kazoo and zkServer.sh do not read the date.
//   - envi prints no java.* keys (there is no JVM); it prints go.version instead.
//     kazoo reads only zookeeper.version from it.
//   - wchc/wchp/dump list sessions and paths sorted; ZooKeeper prints hash order.
package fourletter
