// Package superset holds zkraft_superset, a Python package (kazoo) that coordinates
// Apache Superset replicas through ZooKeeper: dynamic configuration, a Celery beat
// singleton, a report execution lock, a web-node registry and HiveServer2/Kyuubi
// endpoint resolution. Its pytest suite runs against in-process zkraft servers with
//
//	go test -race -count=1 -tags clients ./integration/superset/...
//
// once against a single server and once against a 3-member ensemble whose leader the
// tests stop through a control endpoint (see superset_test.go). See docs/superset.md.
package superset
