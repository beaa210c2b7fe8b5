//go:build clients

package clients

// matrixNotes is appended to the generated MATRIX.md.
const matrixNotes = `
## Notes

- Tests: TestGoZookeeper (gozk_test.go), TestKazoo running test_kazoo.py (kazoo_test.go; a cell
  names the pytest test), TestZkCli (zkcli_test.go, one zkCli.sh session fed on stdin; a
  "Node does not exist: /__mark__/…" line separates sections). Op 3 (exists) of zkCli.sh includes
  those marker lookups, answered NONODE.
- "TestKazoo" in a kazoo cell: a kazoo client not yet labelled by its pytest test (auth_data is
  sent while connecting; clients built outside the fixture, e.g. to resume a session).
- zkCli.sh's deleteall sends its deletes in multi (14) batches (ZKUtil.deleteRecursive).
- Reconfig (16) answers RECONFIGDISABLED (-123) as ZooKeeper 3.8 does by default
  (reconfigEnabled=false); go-zookeeper gets ErrReconfigDisabled. kazoo 2.8.0 has reconfig() but
  no exception class for -123 (its reader raises RuntimeError("Invalid error code")), so it is
  not exercised from kazoo.
- zkCli.sh: create/create -s/-e send create (1); create -c sends createContainer (19); create -t
  sends createTTL (21); ls sends getChildren (8), ls -s getChildren2 (12); setWatches2 (105) is
  sent on reconnect after the test drops the proxied connection.
- Op 17 (checkWatches) is not sent by any of these clients (the Java API's checkWatches is not
  reachable from zkCli.sh); integration/watch_test.go covers it with the raw client.
- Ops 103–107, 18, 22 are covered for Go by integration/ (raw client, integration/rawzk).
`
