"""zkraft_superset: Apache Superset coordination over ZooKeeper (zkraft or Apache ZooKeeper).

Only kazoo is required. The pieces, each usable from superset_config.py:

* :class:`~zkraft_superset.config.DynamicConfig` - FEATURE_FLAGS and other settings
  from a JSON znode, validated, kept current by a watch, with a local cache file.
* ``python3 -m zkraft_superset.beat`` (:mod:`zkraft_superset.beat`) - run Celery beat on
  exactly one replica, chosen by leader election.
* :func:`~zkraft_superset.reportlock.report_once` - run an alert/report execution once
  per (report id, scheduled time) across workers.
* :class:`~zkraft_superset.registry.WebNodeRegistry` and
  :func:`~zkraft_superset.registry.list_web_nodes` - live web nodes as ephemeral znodes.
* :func:`~zkraft_superset.hive.resolve_uri` - HiveServer2 / Kyuubi high-availability
  endpoints published in ZooKeeper, as a SQLAlchemy URI.
"""

from .config import DynamicConfig, ConfigError, DEFAULT_SCHEMA, dict_of
from .reportlock import report_once, once_per_schedule
from .registry import WebNodeRegistry, list_web_nodes, watch_web_nodes
from .hive import resolve_uri, list_endpoints, Endpoint, db_connection_mutator
from ._zk import make_client

__all__ = [
    "DynamicConfig", "ConfigError", "DEFAULT_SCHEMA", "dict_of",
    "report_once", "once_per_schedule",
    "WebNodeRegistry", "list_web_nodes", "watch_web_nodes",
    "resolve_uri", "list_endpoints", "Endpoint", "db_connection_mutator",
    "make_client",
]
