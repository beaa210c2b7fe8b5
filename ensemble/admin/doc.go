// Package admin serves ZooKeeper's AdminServer over HTTP: /commands/<name> answers a
// JSON object in the shape Apache ZooKeeper 3.8 gives (Jackson's pretty printer,
// fields in its order, "command" and "error" last), /commands lists the commands, and
// /ready and /health answer load balancers and Kubernetes probes.
//
// It knows nothing of the server: the ensemble package registers the commands. It
// must not import ensemble, storage or integration.
package admin
