import json
import logging
import socket
import time

from conftest import wait_for
from zkraft_superset.config import DynamicConfig, ConfigError, publish, validate, DEFAULT_SCHEMA

DEFAULTS = {"FEATURE_FLAGS": {"ALERT_REPORTS": False, "DASHBOARD_RBAC": True}, "ROW_LIMIT": 50000}


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return "127.0.0.1:%d" % port


def test_loads_at_start_and_follows_changes(zk, zk_hosts, root, tmp_path, control):
    path = root + "/config"
    publish(zk, path, {"FEATURE_FLAGS": {"ALERT_REPORTS": True}, "ROW_LIMIT": 1000})
    changes = []
    cfg = DynamicConfig(zk_hosts, path=path, defaults=DEFAULTS, cache_file=str(tmp_path / "cache.json"),
                        session_timeout=4, connect_timeout=10)
    cfg.on_change(changes.append)
    cfg.start()
    try:
        assert cfg.source == "zookeeper"
        assert cfg["ROW_LIMIT"] == 1000
        # FEATURE_FLAGS merge one level deep over the defaults.
        assert cfg.feature_flags == {"ALERT_REPORTS": True, "DASHBOARD_RBAC": True}
        assert cfg.feature_flags_func({"ENABLE_TEMPLATE_PROCESSING": True}) == {
            "ENABLE_TEMPLATE_PROCESSING": True, "ALERT_REPORTS": True, "DASHBOARD_RBAC": True}
        ns = cfg.apply({})
        assert ns["ROW_LIMIT"] == 1000 and ns["FEATURE_FLAGS"]["ALERT_REPORTS"] is True

        publish(zk, path, {"FEATURE_FLAGS": {"ALERT_REPORTS": False, "THUMBNAILS": True}, "ROW_LIMIT": 2000})
        wait_for(lambda: cfg.get("ROW_LIMIT") == 2000, 10, what="the watch to deliver ROW_LIMIT=2000")
        assert cfg.is_feature_enabled("THUMBNAILS") and not cfg.is_feature_enabled("ALERT_REPORTS")
        wait_for(lambda: changes and changes[-1]["ROW_LIMIT"] == 2000, 10, what="the change listener")

        # The ensemble loses its leader; the watch carries over to the new one.
        killed = control.kill_leader()
        publish(zk, path, {"ROW_LIMIT": 3000})
        wait_for(lambda: cfg.get("ROW_LIMIT") == 3000, 15, what="ROW_LIMIT=3000 after leader stop %s" % killed)
        assert cfg.feature_flags == DEFAULTS["FEATURE_FLAGS"]
        cached = json.load(open(str(tmp_path / "cache.json")))
        assert cached["config"] == {"ROW_LIMIT": 3000} and cached["version"] == cfg.version
    finally:
        cfg.stop()


def test_invalid_documents_are_rejected(zk, zk_hosts, root, caplog):
    path = root + "/config"
    publish(zk, path, {"ROW_LIMIT": 10, "FEATURE_FLAGS": {"X": True}})
    cfg = DynamicConfig(zk_hosts, path=path, defaults=DEFAULTS, session_timeout=4).start()
    try:
        assert cfg.get("ROW_LIMIT") == 10
        good_version = cfg.version
        bad = [
            b"{not json",
            b"\xff\xfe",
            b"[1, 2]",
            json.dumps({"ROW_LIMIT": "many"}).encode(),
            json.dumps({"ROW_LIMIT": True}).encode(),
            json.dumps({"ROW_LIMIT": -5}).encode(),
            json.dumps({"FEATURE_FLAGS": {"X": "yes"}}).encode(),
            json.dumps({"FEATURE_FLAGS": ["X"]}).encode(),
            json.dumps({"SECRET_KEY": "x"}).encode(),
        ]
        with caplog.at_level(logging.WARNING, logger="zkraft_superset.config"):
            for i, data in enumerate(bad):
                zk.set(path, data)
                wait_for(lambda: cfg.rejected == i + 1, 10, what="rejection of %r" % data)
                assert cfg.get("ROW_LIMIT") == 10 and cfg.version == good_version and cfg.source == "zookeeper"
            zk.delete(path)
            time.sleep(0.3)
            assert cfg.get("ROW_LIMIT") == 10
        msgs = [r.getMessage() for r in caplog.records]
        assert sum("rejected %s" % path in m for m in msgs) == len(bad), msgs
        assert any("does not exist" in m for m in msgs), msgs
        # Valid again: accepted.
        publish(zk, path, {"ROW_LIMIT": 11})
        wait_for(lambda: cfg.get("ROW_LIMIT") == 11, 10, what="the valid document")
    finally:
        cfg.stop()


def test_validate_schema():
    validate({"FEATURE_FLAGS": {"A": True}, "ROW_LIMIT": 5, "APP_NAME": "x"}, DEFAULT_SCHEMA)
    custom = {"RATIO": float, "NAME": (str, type(None))}
    validate({"RATIO": 1, "NAME": None}, custom)
    for doc in ({"RATIO": "1"}, {"RATIO": False}, {"NAME": 3}, {"OTHER": 1}, "x"):
        try:
            validate(doc, custom)
        except ConfigError:
            continue
        raise AssertionError("accepted %r" % (doc,))


def test_unreachable_at_start_uses_defaults_then_cache(zk, zk_hosts, root, tmp_path):
    cache = str(tmp_path / "cache.json")
    dead = closed_port()
    t0 = time.monotonic()
    cfg = DynamicConfig(dead, path=root + "/config", defaults=DEFAULTS, cache_file=cache,
                        connect_timeout=1, session_timeout=4).start()
    try:
        assert time.monotonic() - t0 < 5
        assert cfg.source == "defaults" and cfg.snapshot() == DEFAULTS
    finally:
        cfg.stop()

    # A reachable run writes the cache ...
    publish(zk, root + "/config", {"ROW_LIMIT": 77, "FEATURE_FLAGS": {"ALERT_REPORTS": True}})
    live = DynamicConfig(zk_hosts, path=root + "/config", defaults=DEFAULTS, cache_file=cache, session_timeout=4).start()
    live.stop()
    # ... which an unreachable start then uses.
    cfg = DynamicConfig(dead, path=root + "/config", defaults=DEFAULTS, cache_file=cache,
                        connect_timeout=1, session_timeout=4).start()
    try:
        assert cfg.source == "cache" and cfg.version == 0
        assert cfg["ROW_LIMIT"] == 77 and cfg.feature_flags["ALERT_REPORTS"] is True
    finally:
        cfg.stop()

    # A corrupt cache is ignored: defaults.
    with open(cache, "w") as f:
        f.write('{"config": {"ROW_LIMIT": "lots"}}')
    cfg = DynamicConfig(dead, path=root + "/config", defaults=DEFAULTS, cache_file=cache,
                        connect_timeout=1, session_timeout=4).start()
    try:
        assert cfg.source == "defaults" and cfg["ROW_LIMIT"] == 50000
    finally:
        cfg.stop()


def test_watch_installed_once_ensemble_answers(zk, zk_hosts, root):
    """start() that returns before the first connection (connect_timeout=0) falls back to
    the defaults and installs the watch in the background once connected."""
    path = root + "/config"
    publish(zk, path, {"ROW_LIMIT": 5})
    # connect_timeout=0: start() returns before the first connection completes.
    cfg = DynamicConfig(zk_hosts, path=path, defaults=DEFAULTS, connect_timeout=0, session_timeout=4).start()
    try:
        assert cfg.wait_watching(15)
        wait_for(lambda: cfg.get("ROW_LIMIT") == 5, 10, what="the znode after connecting")
        publish(zk, path, {"ROW_LIMIT": 6})
        wait_for(lambda: cfg.get("ROW_LIMIT") == 6, 10, what="a change after connecting")
    finally:
        cfg.stop()
