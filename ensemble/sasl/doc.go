// Package sasl is the server side of the SASL exchanges ZooKeeper clients start
// with op 102 (GetSASLRequest/SetSASLResponse): DIGEST-MD5 (RFC 2831) against the
// user_NAME="password" options of a JAAS DigestLoginModule, as Java's SASL server
// answers for ZooKeeper (protocol "zookeeper", server name and realm "zk-sasl-md5",
// qop auth), and the names clients authenticate as.
//
// It knows nothing of connections or sessions: the server feeds each client token
// to an Exchange and gets the token to send back. It imports ensemble/jaas and the
// standard library.
package sasl
