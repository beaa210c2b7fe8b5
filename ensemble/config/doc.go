// Package config reads a ZooKeeper zoo.cfg (java.util.Properties syntax) into a
// typed, validated Config with ZooKeeper 3.8's defaults and error rules.
//
// It must not import the rest of zkraft (ensemble, storage, zkproto): stdlib only,
// so the binary and tests can load a configuration without starting anything.
//
// Keys ZooKeeper reads as JVM system properties are accepted in zoo.cfg under
// either spelling, with or without the "zookeeper." prefix, because zkraft has no
// JVM flags: jute.maxbuffer, readonlymode.enabled, znode.container.checkIntervalMs,
// zookeeper.extendedTypesEnabled, zookeeper.DigestAuthenticationProvider.superDigest.
// (ZooKeeper itself turns an unrecognised zoo.cfg key K into the system property
// "zookeeper.K", so 4lw.commands.whitelist, extendedTypesEnabled, globalOutstandingLimit,
// admin.* and DigestAuthenticationProvider.superDigest work there unprefixed, while
// jute.maxbuffer, readonlymode.enabled and znode.container.checkIntervalMs are ignored
// by ZooKeeper in zoo.cfg and only work as -D flags.)
package config
