package datatree

import (
	"crypto/sha1"
	"encoding/base64"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/zkraft/zkraft/zkproto"
)

// CheckPerm reports whether identities auth hold permission perm (one or more
// PermRead... bits: any of them suffices) under acl, as ZooKeeperServer.checkACL
// does: an empty ACL allows everything; a ("super", _) identity allows everything;
// world:anyone matches anyone; ip ACLs match ("ip", addr) identities by address or
// CIDR prefix (IPv4 and IPv6); digest, sasl and x509 ACLs match an identity of the
// same scheme with the same id, and every sasl ACL the sasl identity "super".
// Other schemes match nothing.
func CheckPerm(acl []zkproto.ACL, perm int32, auth []zkproto.Id) bool {
	if len(acl) == 0 {
		return true
	}
	for _, id := range auth {
		if id.Scheme == "super" {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return true
		}
		for _, id := range auth {
			if id.Scheme == a.ID.Scheme && idMatches(id.Scheme, id.ID, a.ID.ID) {
				return true
			}
		}
	}
	return false
}

func idMatches(scheme, id, expr string) bool {
	switch scheme {
	case "ip":
		return ipMatches(id, expr)
	case "sasl":
		// SASLAuthenticationProvider.matches: the SASL user "super" matches every
		// sasl ACL.
		return id == expr || id == "super"
	case "digest", "x509":
		return id == expr
	}
	return false
}

// DigestID is the digest-scheme id of user:password, as
// DigestAuthenticationProvider.generateDigest makes it:
// user + ":" + base64(sha1(user + ":" + password)).
func DigestID(user, password string) string { return Digest(user + ":" + password) }

// Digest is the digest-scheme id that addauth with credential makes, as
// DigestAuthenticationProvider.generateDigest does: the credential up to its first
// colon, a colon, and base64(sha1(credential)), the credential hashed as sent. One
// without a colon ("nocolon") hashes without one: splitting it into user and an empty
// password would hash "nocolon:" (found by integration/fuzz).
func Digest(credential string) string {
	sum := sha1.Sum([]byte(credential))
	name, _, _ := strings.Cut(credential, ":")
	return name + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// parseIPExpr parses "addr" or "addr/bits" as IPAuthenticationProvider does.
func parseIPExpr(expr string) (netip.Addr, int, bool) {
	addrPart, bitsPart, hasBits := strings.Cut(expr, "/")
	addr, ok := parseIP(addrPart)
	if !ok {
		return netip.Addr{}, 0, false
	}
	bits := addr.BitLen()
	if hasBits {
		b, err := strconv.Atoi(bitsPart)
		if err != nil || b < 0 || b > addr.BitLen() {
			return netip.Addr{}, 0, false
		}
		bits = b
	}
	return addr, bits, true
}

// parseIP accepts IPv4 the way Java's Integer.parseInt-per-octet does (leading
// zeros allowed) and IPv6 as netip does (zone dropped).
func parseIP(s string) (netip.Addr, bool) {
	if strings.IndexByte(s, ':') < 0 {
		parts := strings.Split(s, ".")
		if len(parts) != 4 {
			return netip.Addr{}, false
		}
		var b [4]byte
		for i, p := range parts {
			if p == "" || len(p) > 4 {
				return netip.Addr{}, false
			}
			v, err := strconv.Atoi(p)
			if err != nil || v < 0 || v > 255 {
				return netip.Addr{}, false
			}
			b[i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.WithZone("").Unmap(), true
}

func ipMatches(id, expr string) bool {
	aclAddr, bits, ok := parseIPExpr(expr)
	if !ok {
		return false
	}
	remote, ok := parseIP(id)
	if !ok || remote.BitLen() != aclAddr.BitLen() {
		return false
	}
	p1, err1 := aclAddr.Prefix(bits)
	p2, err2 := remote.Prefix(bits)
	return err1 == nil && err2 == nil && p1 == p2
}

// validID is ServerAuthenticationProvider.isValid for the schemes we know.
func validID(scheme, id string) bool {
	switch scheme {
	case "digest":
		return len(javaSplit(id, ':')) == 2
	case "ip":
		_, _, ok := parseIPExpr(id)
		return ok
	case "sasl":
		// SASLAuthenticationProvider.isValid: the id parses as a KerberosName (one
		// with '@' must be name[/host]@realm; any other is a plain name, "" too).
		return !strings.Contains(id, "@") || kerberosName.MatchString(id)
	case "x509":
		return id != ""
	}
	return false
}

// kerberosName is ZooKeeper's KerberosName.nameParser.
var kerberosName = regexp.MustCompile(`^([^/@]*)(/([^/@]*))?@([^/@]*)$`)

// javaSplit is Java's String.split for a one-character literal: trailing empty
// strings are dropped.
func javaSplit(s string, sep byte) []string {
	parts := strings.Split(s, string(sep))
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	return parts
}

// authenticatedScheme reports whether identities of the scheme are "authenticated"
// (ServerAuthenticationProvider.isAuthenticated), so that the "auth" ACL scheme
// expands to them: digest, sasl and x509; not ip, world or super.
func authenticatedScheme(scheme string) bool {
	return scheme == "digest" || scheme == "sasl" || scheme == "x509"
}

// fixupACL is PrepRequestProcessor.fixupACL: it drops duplicates, refuses an empty
// list, unknown schemes and malformed ids, and expands the "auth" scheme into the
// caller's authenticated identities (INVALIDACL if there are none). The result
// never aliases acl; the open ACL comes back as the shared openACL.
func fixupACL(acl []zkproto.ACL, auth []zkproto.Id) ([]zkproto.ACL, bool) {
	if len(acl) == 1 && acl[0] == openACL[0] {
		return openACL, true // the common case, without allocation
	}
	if len(acl) == 0 {
		return nil, false
	}
	out := make([]zkproto.ACL, 0, len(acl))
	for i, a := range acl {
		if slices.Contains(acl[:i], a) {
			continue // removeDuplicates
		}
		switch {
		case a.ID.Scheme == "world" && a.ID.ID == "anyone":
			out = append(out, a)
		case a.ID.Scheme == "auth":
			found := false
			for _, id := range zkAuthOrder(auth) {
				if authenticatedScheme(id.Scheme) {
					found = true
					out = append(out, zkproto.ACL{Perms: a.Perms, ID: id})
				}
			}
			if !found {
				return nil, false
			}
		default:
			if !validID(a.ID.Scheme, a.ID.ID) {
				return nil, false
			}
			out = append(out, a)
		}
	}
	return out, true
}
