"""The Redis a test suite runs against: a single server, or a real Redis Cluster (the same suites run on both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from redis.cluster import RedisCluster

STANDALONE = "standalone"
CLUSTER = "cluster"


class ClusterView(RedisCluster):
    """A test's client of the whole cluster: KEYS asks every primary (redis-py's asks one node), FLUSHDB empties the
    primaries as they are now (a test may have failed one over; redis-py's list of them would still name it)."""

    def keys(self, pattern: Any = "*", **kwargs: Any) -> Any:
        kwargs.setdefault("target_nodes", RedisCluster.PRIMARIES)
        return super().keys(pattern, **kwargs)

    def flushdb(self, *args: Any, **kwargs: Any) -> Any:
        self.nodes_manager.initialize()
        return super().flushdb(*args, **kwargs)


@dataclass(frozen=True)
class RedisBackend:
    mode: str
    url: str

    @property
    def cluster(self) -> bool:
        return self.mode == CLUSTER

    def environment(self) -> dict[str, str]:
        """What the functions are given to use it (the DB settings are ignored in cluster mode)."""
        return {"REDIS_URL": self.url, "REDIS_MODE": self.mode, "CONNECTION_REDIS_DB": "1", "EVENT_QUEUE_REDIS_DB": "2"}

    def connection_store(self, **options: Any) -> redis.Redis | ClusterView:
        """A client of the connection state: database 1, or the cluster."""
        options.setdefault("decode_responses", True)
        if self.cluster:
            return ClusterView(url=self.url, **options)
        return redis.Redis.from_url(self.url, db=1, **options)

    def event_store(self, **options: Any) -> redis.Redis | ClusterView:
        """A client of the event log: database 2, or the cluster (its keys start with ``log:``)."""
        options.setdefault("decode_responses", True)
        if self.cluster:
            return ClusterView(url=self.url, **options)
        return redis.Redis.from_url(self.url, db=2, **options)
