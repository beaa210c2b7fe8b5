package compat

import (
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"strings"
)

// DefaultSuperPassword is the super password the differential test configures
// both servers with (its superDigest is DigestID("super", DefaultSuperPassword)).
const DefaultSuperPassword = "diffsecret"

// DigestID is "user:base64(sha1(user:password))", the id of a digest ACL entry and
// of DigestAuthenticationProvider.superDigest.
func DigestID(user, password string) string {
	h := sha1.Sum([]byte(user + ":" + password))
	return user + ":" + base64.StdEncoding.EncodeToString(h[:])
}

// All is every scenario, from the tables of the scenarios_*.go files, in a fixed
// order. Names are unique.
func All() []Scenario {
	var all []Scenario
	for _, gen := range []func() []Scenario{
		createScenarios,
		opScenarios,
		multiScenarios,
		aclScenarios,
		pathScenarios,
		sizeScenarios,
		sequenceScenarios,
		ttlScenarios,
		sessionScenarios,
		watchScenarios,
		watchACLScenarios,
	} {
		all = append(all, gen()...)
	}
	slices.SortFunc(all, func(a, b Scenario) int { return strings.Compare(a.name, b.name) })
	return all
}
