package compat

import (
	"path"
	"slices"
)

// A Need is a server setting or a circumstance a scenario's expected transcript
// depends on. The differential test provides all of them; `zkraft compat` runs a
// scenario only when the target (and the reference) provide what it needs.
type Need string

const (
	// NeedSuper: the server's superDigest password (the super ACL cases).
	NeedSuper Need = "super"
	// NeedExtendedTypes: zookeeper.extendedTypesEnabled=true (TTL nodes).
	NeedExtendedTypes Need = "extended-types"
	// NeedSessionTimeouts: minSessionTimeout=1000 and maxSessionTimeout=20000 ms
	// (the clamp cases, and sessions short enough to expire during a scenario).
	NeedSessionTimeouts Need = "session-timeouts"
	// NeedFastReaping: containers and expired TTL nodes reaped within about a
	// second (znode.container.checkIntervalMs ≤ 1000; ZooKeeper's default is 60 s).
	NeedFastReaping Need = "fast-reaping"
	// NeedLoopback: the client connects from 127.0.0.1 (ip ACLs and whoAmI show
	// the client's address).
	NeedLoopback Need = "loopback"
	// NeedDefaultMaxBuffer: jute.maxbuffer is the default 1048576 bytes.
	NeedDefaultMaxBuffer Need = "default-maxbuffer"
	// NeedFreshServer: the transcript shows state outside the scenario's namespace
	// (the root node's counts), so it is known only on a server with nothing else
	// on it. Such scenarios have no golden transcript, and compat never runs them.
	NeedFreshServer Need = "fresh-server"
)

// Describe says what the need is, for an operator.
func (n Need) Describe() string {
	switch n {
	case NeedSuper:
		return "the superDigest password (--super-password)"
	case NeedExtendedTypes:
		return "zookeeper.extendedTypesEnabled=true (TTL nodes)"
	case NeedSessionTimeouts:
		return "minSessionTimeout=1000 and maxSessionTimeout=20000 ms"
	case NeedFastReaping:
		return "containers and TTL nodes reaped within ~1 s (znode.container.checkIntervalMs ≤ 1000)"
	case NeedLoopback:
		return "a client on the server's host (connecting from 127.0.0.1)"
	case NeedDefaultMaxBuffer:
		return "jute.maxbuffer=1048576, the default (--jute-maxbuffer)"
	case NeedFreshServer:
		return "a server with nothing else on it (the case reads the root node's counts)"
	}
	return string(n)
}

// needTable says which scenarios need what (path.Match patterns over names).
// TestNeeds checks it against the golden transcripts: a transcript that shows a
// super login, a TTL, 127.0.0.1, a session timeout other than the default or a
// reaped node must belong to a scenario that declares the matching need.
var needTable = []struct {
	pattern string
	need    Need
}{
	{"acl/super/*/*", NeedSuper},
	{"op/whoAmI/super", NeedSuper},

	{"create/createTTL/*/*", NeedExtendedTypes},
	{"create/*/mode5/*", NeedExtendedTypes},
	{"create/*/mode6/*", NeedExtendedTypes},
	{"ttl-container/ttl-*", NeedExtendedTypes},
	{"multi/all-creates", NeedExtendedTypes},
	{"multi/fail/ttl-bad/*", NeedExtendedTypes},
	{"sequence/container-and-ttl-count", NeedExtendedTypes},

	{"session/timeout/*", NeedSessionTimeouts},
	{"session/expiry-deletes-ephemerals", NeedSessionTimeouts},
	{"session/ping-keeps-session", NeedSessionTimeouts},
	{"session/resume", NeedSessionTimeouts},

	{"ttl-container/*reaped*", NeedFastReaping},
	{"ttl-container/container-ephemeral-child-session-closed", NeedFastReaping},

	{"acl/ip/*/*", NeedLoopback},
	{"acl/ip-cidr/*/*", NeedLoopback},
	{"op/whoAmI/*", NeedLoopback},
	{"op/auth/ip-scheme", NeedLoopback},
	{"op/auth/digest-twice", NeedLoopback}, // these four end with a whoAmI
	{"op/auth/super-wrong-password", NeedLoopback},
	{"op/auth/digest-no-colon", NeedLoopback},
	{"op/auth/normal-xid", NeedLoopback},
	{"op/setACL/ip-cidr", NeedLoopback},
	{"watch-acl/*/*/ip*", NeedLoopback},
	{"watch-acl/*/*/super", NeedSuper},

	{"size/*/*", NeedDefaultMaxBuffer},
	{"size/connect-frame-too-large", NeedDefaultMaxBuffer},

	// getData("") is the root on ZooKeeper (see the allow-list).
	{"path/invalid/empty/getData", NeedFreshServer},
}

// Needs is what the scenario's expected transcript depends on.
func (s Scenario) Needs() []Need {
	var out []Need
	for _, e := range needTable {
		if ok, _ := matchName(e.pattern, s.name); ok {
			out = append(out, e.need)
		}
	}
	return out
}

// HasNeed reports whether the scenario needs n.
func (s Scenario) HasNeed(n Need) bool { return slices.Contains(s.Needs(), n) }

func matchName(pattern, name string) (bool, error) { return path.Match(pattern, name) }
