// Package jaas reads a Java Authentication and Authorization Service login
// configuration file (the file java.security.auth.login.config names), the way
// ZooKeeper's server finds its SASL credentials in it:
//
//	Server {
//	    org.apache.zookeeper.server.auth.DigestLoginModule required
//	    user_bob="bobsecret";
//	};
//
// It knows the syntax only, not what any login module means. Standard library only.
package jaas
