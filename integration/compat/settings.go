package compat

import (
	"fmt"
	"time"

	"github.com/zkraft/zkraft/ensemble"
)

// Settings are what a differential run configures both servers with, so that
// neither answers differently for a setting's sake: integration/diff and
// integration/fuzz start the reference with ZooKeeperConfig and zkraft with
// Configure. ZooKeeper clamps a requested session timeout to [MinSessionTimeout,
// MaxSessionTimeout]; both are set so the clamps do not depend on tickTime defaults.
type Settings struct {
	TickTime          time.Duration
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	// ContainerInterval is how often empty containers and expired TTL nodes are reaped.
	ContainerInterval time.Duration
	// SuperPassword is the password of the superDigest both servers get.
	SuperPassword string
}

// DiffSettings are the differential tests' settings.
var DiffSettings = Settings{
	TickTime:          100 * time.Millisecond,
	MinSessionTimeout: 1000 * time.Millisecond,
	MaxSessionTimeout: 20000 * time.Millisecond,
	ContainerInterval: 100 * time.Millisecond,
	SuperPassword:     DefaultSuperPassword,
}

// ZooKeeperConfig gives the reference's zoo.cfg keys and JVM system properties (with
// extended types, so TTL nodes work, and without fsync, for speed).
func (s Settings) ZooKeeperConfig() (cfg, props map[string]string) {
	cfg = map[string]string{
		"tickTime":          fmt.Sprint(s.TickTime.Milliseconds()),
		"minSessionTimeout": fmt.Sprint(s.MinSessionTimeout.Milliseconds()),
		"maxSessionTimeout": fmt.Sprint(s.MaxSessionTimeout.Milliseconds()),
	}
	props = map[string]string{
		"zookeeper.extendedTypesEnabled":                     "true",
		"zookeeper.DigestAuthenticationProvider.superDigest": DigestID("super", s.SuperPassword),
		"znode.container.checkIntervalMs":                    fmt.Sprint(s.ContainerInterval.Milliseconds()),
		"zookeeper.forceSync":                                "no",
	}
	return cfg, props
}

// Configure configures zkraft as ZooKeeperConfig configures the reference.
func (s Settings) Configure(c *ensemble.Config) {
	c.TickTime = s.TickTime
	c.MinSessionTimeout = s.MinSessionTimeout
	c.MaxSessionTimeout = s.MaxSessionTimeout
	c.MaxClientCnxns = 0
	c.FourLetterWhitelist = []string{"*"}
	c.ExtendedTypesEnabled = true
	c.SuperDigest = DigestID("super", s.SuperPassword)
	c.ContainerCheckInterval = s.ContainerInterval
}
