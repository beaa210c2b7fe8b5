"""Dynamic Superset configuration from a JSON znode.

In superset_config.py::

    from zkraft_superset import DynamicConfig

    ZK = DynamicConfig("zk1:2181,zk2:2181,zk3:2181", path="/superset/config",
                       defaults={"FEATURE_FLAGS": {"ALERT_REPORTS": True}, "ROW_LIMIT": 50000},
                       cache_file="/var/lib/superset/zk-config.json").start()
    ZK.apply(globals())                       # ROW_LIMIT, FEATURE_FLAGS, ... at start
    GET_FEATURE_FLAGS_FUNC = ZK.feature_flags_func  # flags stay current per request

The znode holds a JSON object. Every key must be in the schema (a dict of key ->
type, tuple of types or validator function) and have a valid value; otherwise the
whole document is rejected, a warning is logged and the last good configuration
stays. The effective configuration is the defaults overlaid by the znode (dict values,
such as FEATURE_FLAGS, are merged one level deep). A good configuration is written to
cache_file; when the ensemble is unreachable at start the cache (or else the
defaults) is used, and the watch is installed as soon as the ensemble answers.
"""

import copy
import json
import logging
import os
import tempfile
import threading
import time

from kazoo.exceptions import NodeExistsError, NoNodeError
from kazoo.protocol.states import KazooState

from ._zk import make_client

log = logging.getLogger("zkraft_superset.config")


class ConfigError(ValueError):
    """A configuration document that does not satisfy the schema."""


def dict_of(value_type, key_type=str):
    """A validator for a dict whose keys are key_type and values value_type, e.g.
    dict_of(bool) for FEATURE_FLAGS."""

    def check(value):
        if not isinstance(value, dict):
            raise ConfigError("want an object, got %s" % type(value).__name__)
        for k, v in value.items():
            if not isinstance(k, key_type):
                raise ConfigError("key %r is not %s" % (k, key_type.__name__))
            _check_type(v, value_type, k)
        return value

    check.__name__ = "dict_of(%s)" % getattr(value_type, "__name__", value_type)
    return check


def _check_type(value, want, where):
    types = want if isinstance(want, tuple) else (want,)
    if isinstance(value, bool) and bool not in types:
        # JSON true is not a number: ROW_LIMIT=true is a mistake, not 1.
        raise ConfigError("%s: want %s, got bool" % (where, "/".join(t.__name__ for t in types)))
    if float in types and isinstance(value, int) and not isinstance(value, bool):
        return
    if not isinstance(value, types):
        raise ConfigError("%s: want %s, got %s" % (where, "/".join(t.__name__ for t in types), type(value).__name__))


def positive_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError("want a positive integer, got %r" % (value,))
    return value


# Settings that are safe to change at run time. Extend or replace it with your own.
DEFAULT_SCHEMA = {
    "FEATURE_FLAGS": dict_of(bool),
    "ROW_LIMIT": positive_int,
    "SAMPLES_ROW_LIMIT": positive_int,
    "SQL_MAX_ROW": positive_int,
    "DISPLAY_MAX_ROW": positive_int,
    "SQLLAB_TIMEOUT": positive_int,
    "SQLLAB_ASYNC_TIME_LIMIT_SEC": positive_int,
    "SUPERSET_WEBSERVER_TIMEOUT": positive_int,
    "CACHE_DEFAULT_TIMEOUT": positive_int,
    "ALERT_REPORTS_NOTIFICATION_DRY_RUN": bool,
    "APP_NAME": str,
    "DEFAULT_HTTP_HEADERS": dict_of(str),
}


def validate(doc, schema):
    """Return doc if it is a JSON object whose keys are all in schema with valid
    values; raise ConfigError otherwise."""
    if not isinstance(doc, dict):
        raise ConfigError("the document must be a JSON object, got %s" % type(doc).__name__)
    for key, value in doc.items():
        if key not in schema:
            raise ConfigError("unknown key %r" % key)
        rule = schema[key]
        if isinstance(rule, (type, tuple)):
            _check_type(value, rule, key)
        else:
            try:
                rule(value)
            except ConfigError as e:
                raise ConfigError("%s: %s" % (key, e)) from None
            except (TypeError, ValueError) as e:
                raise ConfigError("%s: %s" % (key, e)) from None
    return doc


def parse(data, schema):
    """Decode and validate a znode's bytes."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ConfigError("invalid JSON: %s" % e) from None
    return validate(doc, schema)


def _overlay(defaults, doc):
    out = copy.deepcopy(defaults)
    for k, v in doc.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = copy.deepcopy(v)
    return out


class DynamicConfig:
    """Configuration from a JSON znode, kept current by a kazoo DataWatch.

    source is "defaults", "cache" or "zookeeper"; version is the znode version of the
    configuration in use (None unless it came from ZooKeeper or the cache).
    """

    def __init__(self, hosts=None, path="/superset/config", schema=None, defaults=None,
                 cache_file=None, connect_timeout=5.0, session_timeout=10.0, client=None):
        if hosts is None and client is None:
            raise ValueError("give hosts or a kazoo client")
        self.hosts = hosts
        self.path = path
        self.schema = DEFAULT_SCHEMA if schema is None else schema
        self.defaults = copy.deepcopy(defaults or {})
        validate(self.defaults, self.schema)
        self.cache_file = cache_file
        self.connect_timeout = connect_timeout
        self.session_timeout = session_timeout
        self.client = client
        self._own_client = client is None
        self._lock = threading.Lock()
        self._values = copy.deepcopy(self.defaults)
        self._doc = {}
        self.source = "defaults"
        self.version = None
        self.rejected = 0
        self.last_error = None
        self._listeners = []
        self._watch = None
        self._stopped = threading.Event()
        self._watching = threading.Event()
        self._thread = None

    # -- life cycle -------------------------------------------------------------------

    def start(self):
        """Connect (up to connect_timeout), read the znode and watch it. When the ensemble
        does not answer in time, fall back to the cache file or the defaults and keep
        trying in the background. Returns self."""
        if self.client is None:
            self.client = make_client(self.hosts, session_timeout=self.session_timeout)
        if self._own_client:
            self.client.start_async().wait(self.connect_timeout)
        if self.client.state == KazooState.CONNECTED and self._try_watch():
            return self
        self._fallback()
        self._thread = threading.Thread(target=self._watch_when_connected, name="zkraft-config", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(5)
        if self._own_client and self.client is not None:
            self.client.stop()
            self.client.close()

    def wait_watching(self, timeout):
        """Wait until the znode is watched (true) or timeout passes (false)."""
        return self._watching.wait(timeout)

    def _try_watch(self):
        try:
            self._watch = self.client.DataWatch(self.path, self._on_data)
        except Exception as e:  # connection lost while reading: try again later
            log.warning("zkraft_superset.config: cannot watch %s yet: %s", self.path, e)
            return False
        self._watching.set()
        return True

    def _watch_when_connected(self):
        while not self._stopped.is_set():
            if self.client.state == KazooState.CONNECTED and self._try_watch():
                log.info("zkraft_superset.config: ensemble reachable, watching %s", self.path)
                return
            self._stopped.wait(0.5)

    def _fallback(self):
        cached = self._read_cache()
        if cached is not None:
            version, doc = cached
            with self._lock:
                self._doc = doc
                self._values = _overlay(self.defaults, doc)
                self.source, self.version = "cache", version
            log.warning("zkraft_superset.config: ensemble %s unreachable; using cached config version %s from %s",
                        self.hosts, version, self.cache_file)
        else:
            log.warning("zkraft_superset.config: ensemble %s unreachable and no usable cache; using defaults", self.hosts)

    # -- the watch ----------------------------------------------------------------------

    def _on_data(self, data, stat, event=None):
        if self._stopped.is_set():
            return False
        if data is None:
            log.warning("zkraft_superset.config: %s does not exist; keeping the %s config (version %s)",
                        self.path, self.source, self.version)
            return None
        try:
            doc = parse(data, self.schema)
        except ConfigError as e:
            with self._lock:
                self.rejected += 1
                self.last_error = str(e)
            log.warning("zkraft_superset.config: rejected %s version %d: %s; keeping the %s config (version %s)",
                        self.path, stat.version, e, self.source, self.version)
            return None
        with self._lock:
            if self.source == "zookeeper" and self.version == stat.version and self._doc == doc:
                return None
        # Cache first: whoever sees the new values may rely on the cache holding them.
        self._write_cache(stat.version, doc)
        with self._lock:
            self._doc = doc
            self._values = _overlay(self.defaults, doc)
            self.source, self.version = "zookeeper", stat.version
            values = copy.deepcopy(self._values)
            listeners = list(self._listeners)
        log.info("zkraft_superset.config: applied %s version %d", self.path, stat.version)
        for fn in listeners:
            try:
                fn(values)
            except Exception:
                log.exception("zkraft_superset.config: change listener failed")
        return None

    # -- cache ----------------------------------------------------------------------------

    def _read_cache(self):
        if not self.cache_file:
            return None
        try:
            with open(self.cache_file, "rb") as f:
                saved = json.loads(f.read().decode("utf-8"))
            return saved.get("version"), validate(saved["config"], self.schema)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            log.warning("zkraft_superset.config: ignoring cache %s: %s", self.cache_file, e)
            return None

    def _write_cache(self, version, doc):
        if not self.cache_file:
            return
        d = os.path.dirname(os.path.abspath(self.cache_file))
        try:
            fd, tmp = tempfile.mkstemp(prefix=".zk-config.", dir=d)
            with os.fdopen(fd, "w") as f:
                json.dump({"path": self.path, "version": version, "saved_at": time.time(), "config": doc}, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.cache_file)
        except OSError as e:
            log.warning("zkraft_superset.config: cannot write cache %s: %s", self.cache_file, e)

    # -- reading ------------------------------------------------------------------------

    def snapshot(self):
        """A copy of the effective configuration."""
        with self._lock:
            return copy.deepcopy(self._values)

    def get(self, key, default=None):
        with self._lock:
            return copy.deepcopy(self._values.get(key, default))

    def __getitem__(self, key):
        with self._lock:
            return copy.deepcopy(self._values[key])

    @property
    def feature_flags(self):
        return self.get("FEATURE_FLAGS", {}) or {}

    def is_feature_enabled(self, name, default=False):
        return bool(self.feature_flags.get(name, default))

    def feature_flags_func(self, flags):
        """For Superset's GET_FEATURE_FLAGS_FUNC: the flags Superset computed, overlaid
        with the current ones from ZooKeeper. Superset calls it per request."""
        return {**(flags or {}), **self.feature_flags}

    def apply(self, namespace):
        """Copy the configuration into namespace (globals() of superset_config.py)."""
        namespace.update(self.snapshot())
        return namespace

    def on_change(self, fn):
        """Call fn(values) after each accepted change."""
        with self._lock:
            self._listeners.append(fn)
        return fn


def publish(client, path, doc, schema=None):
    """Validate doc and write it to path (created if missing). Returns the new version.
    Operators' tool: python3 -m zkraft_superset.config --hosts H set FILE."""
    validate(doc, DEFAULT_SCHEMA if schema is None else schema)
    data = json.dumps(doc, sort_keys=True).encode("utf-8")

    def write():
        try:
            return client.set(path, data).version
        except NoNodeError:
            try:
                client.create(path, data, makepath=True)
                return 0
            except NodeExistsError:
                return client.set(path, data).version

    return client.retry(write)  # across a connection loss, e.g. a member stopping


def main(argv=None):
    import argparse
    import sys

    p = argparse.ArgumentParser(prog="python3 -m zkraft_superset.config",
                                description="Show or set Superset's dynamic configuration znode.")
    p.add_argument("--hosts", default=os.environ.get("ZK_HOSTS", "127.0.0.1:2181"))
    p.add_argument("--path", default="/superset/config")
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("get")
    s = sub.add_parser("set")
    s.add_argument("file", help="JSON file, or - for stdin")
    a = p.parse_args(argv)
    client = make_client(a.hosts)
    client.start(timeout=15)
    try:
        if a.cmd == "get":
            data, stat = client.get(a.path)
            print(data.decode("utf-8"))
            print("version %d" % stat.version, file=sys.stderr)
        else:
            text = sys.stdin.read() if a.file == "-" else open(a.file).read()
            try:
                doc = json.loads(text)
                version = publish(client, a.path, doc)
            except (ValueError, ConfigError) as e:
                print("rejected: %s" % e, file=sys.stderr)
                return 1
            print("%s version %d" % (a.path, version))
    finally:
        client.stop()
        client.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
