// Package tlsconfig turns ZooKeeper's ssl.* settings (ClientX509Util's "ssl." keys
// for the client port, QuorumX509Util's "ssl.quorum." keys between members) into
// *tls.Config values that follow the key and trust store files as they change, and
// names a client certificate's subject the way ZooKeeper's x509 ACL scheme does.
//
// It reads PEM, PKCS12 and JKS stores. It imports only the standard library and the
// store parsers (software.sslmate.com/src/go-pkcs12, keystore-go); nothing in
// ensemble.
package tlsconfig
