package ensemble

import (
	"fmt"
	"log/slog"
	"sort"

	"github.com/zkraft/zkraft/ensemble/config"
)

// LoadZooConfig reads a ZooKeeper zoo.cfg into a server Config, with the -D flags of
// $SERVER_JVMFLAGS and $JVMFLAGS under it as zkServer.sh passes them to ZooKeeper
// (config.LoadWithJVMFlags), and the JAAS file they name for SASL. Unknown keys are
// logged and ignored, as ZooKeeper does; a bad value is an error naming file:line,
// and a JAAS file that cannot serve is an error naming the key and the file.
func LoadZooConfig(path string, log *slog.Logger) (Config, error) {
	zc, warnings, err := config.LoadWithJVMFlags(path, config.JVMFlagsFromEnv())
	if err != nil {
		return Config{}, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, w := range warnings {
		log.Warn("zoo.cfg: " + w.String())
	}
	cfg := FromZooConfig(zc)
	cfg.Logger = log
	if cfg.Auth.SASL, err = saslFromZooConfig(zc, func(msg string) { log.Warn(msg) }); err != nil {
		return Config{}, err
	}
	if cfg.Auth.SASL != nil {
		log.Info("SASL authentication: " + cfg.Auth.SASL.Describe())
	}
	if zc.MetricsProviderClassName != config.DefaultMetricsProviderClass && !zc.PrometheusEnabled() {
		log.Warn("zoo.cfg: metricsProvider.className " + zc.MetricsProviderClassName + " is not supported; only " + config.PrometheusMetricsProviderClass + " is")
	}
	if err := applyTLS(&cfg, zc, log); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// FromZooConfig maps a parsed zoo.cfg onto a server Config.
func FromZooConfig(zc *config.Config) Config {
	cfg := NewConfig()
	cfg.ClientAddr = zc.ClientAddr()
	cfg.DataDir = zc.DataDir
	if zc.DataLogDir != zc.DataDir {
		cfg.DataLogDir = zc.DataLogDir
	}
	cfg.TickTime = zc.TickTime
	cfg.MinSessionTimeout = zc.MinSessionTimeout
	cfg.MaxSessionTimeout = zc.MaxSessionTimeout
	cfg.MaxClientCnxns = zc.MaxClientCnxns
	cfg.MaxCnxns = zc.MaxCnxns
	cfg.SessionlessCnxnTimeout = zc.SessionlessCnxnTimeout
	cfg.MaxWatchesPerSession = zc.MaxWatchesPerSession
	cfg.AllowAnyPeerAddress = !zc.PeerAddressCheck
	cfg.MaxBuffer = zc.JuteMaxBuffer
	cfg.GlobalOutstandingLimit = zc.GlobalOutstandingLimit
	cfg.ExtendedTypesEnabled = zc.ExtendedTypesEnabled
	cfg.ReconfigEnabled = zc.ReconfigEnabled
	cfg.ReadOnlyModeEnabled = zc.ReadOnlyModeEnabled
	cfg.SuperDigest = zc.SuperDigest
	cfg.ContainerCheckInterval = zc.ContainerCheckInterval
	cfg.IgnoreUndecodableEntries = zc.IgnoreUndecodableEntries
	cfg.SnapshotFormat = uint32(zc.SnapshotFormat)
	cfg.Auth.EnforceSchemes = zc.SASL.EnforceAuthSchemes
	cfg.Auth.SuperUsers = zc.SASL.SuperUsers
	cfg.Auth.AllowFailedSASL = zc.SASL.AllowFailedClients
	cfg.EnforceQuota = zc.EnforceQuota
	if zc.PrometheusEnabled() {
		cfg.MetricsAddr = zc.MetricsAddr()
		cfg.MetricsRuntime = zc.MetricsExportRuntime
	}
	if zc.AdminServerEnabled {
		cfg.AdminAddr = zc.AdminAddr()
		cfg.AdminCommandURL = zc.AdminCommandURL
	}
	if zc.SnapCount > 0 {
		cfg.SnapshotThreshold = uint64(zc.SnapCount)
	}
	if zc.Distributed() {
		cfg.ServerID = zc.MyID
		for _, sv := range zc.Servers {
			cfg.Peers = append(cfg.Peers, Peer{ID: sv.ID, PeerAddr: sv.PeerAddr(), ClientAddr: sv.ClientAddr, ElectionPort: sv.ElectionPort, Observer: sv.Observer})
		}
	}
	cfg.FourLetterWhitelist = cfg.FourLetterWhitelist[:0]
	for w, ok := range zc.FourLetterWhitelist {
		if ok {
			cfg.FourLetterWhitelist = append(cfg.FourLetterWhitelist, w)
		}
	}
	sort.Strings(cfg.FourLetterWhitelist)
	return cfg
}
