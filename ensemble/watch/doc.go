// Package watch is a server's table of ZooKeeper watches: which connection watches which
// path how, and who is told what when a znode changes. Watches are per server, never replicated.
//
// It imports zkproto and the standard library only.
package watch
