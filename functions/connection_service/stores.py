"""The Redis clients of the two logical stores, connection state and the event log.

Standalone (``REDIS_MODE=standalone``): one server, a database each (``CONNECTION_REDIS_DB``,
``EVENT_QUEUE_REDIS_DB``). Cluster (``REDIS_MODE=cluster``: Redis Cluster, ElastiCache Serverless, any
cluster-mode cache): one ``RedisCluster`` client in database 0 serves both, their keys told apart by prefix
(redis_keys.py). TLS (``rediss://``) and credentials (in the URL, or ``REDIS_USERNAME`` / ``REDIS_PASSWORD``) work
in both.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from redis._parsers.encoders import Encoder
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.exceptions import RedisClusterException

from .errors import StoreUnavailable
from .settings import Settings

log = logging.getLogger(__name__)

RedisClient = redis.Redis | RedisCluster

REDIS_POOL_SIZE = 64
"""Connections per server (per node in cluster mode); a pool waits for a free one rather than failing when every
connection is busy: a host that runs many invocations at once in one process (the local gateway) must not turn a
burst into 503s."""


@dataclass(frozen=True, slots=True)
class Stores:
    mode: str
    connections: RedisClient
    events: RedisClient
    connections_db: int
    events_db: int


def redacted(url: str) -> str:
    """``url`` without its credentials, for logs and reports."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def client_options(settings: Settings) -> dict[str, Any]:
    """Options every Redis connection gets: decoding, timeouts, a waiting pool, credentials, the TLS CA bundle."""
    timeout = settings.redis_socket_timeout_s
    options: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "max_connections": REDIS_POOL_SIZE,
        "timeout": timeout,
    }
    if settings.redis_username:
        options["username"] = settings.redis_username
    if settings.redis_password.get_secret_value():
        options["password"] = settings.redis_password.get_secret_value()
    if settings.redis_tls_ca_file and urlsplit(settings.redis_url).scheme == "rediss":
        options["ssl_ca_certs"] = settings.redis_tls_ca_file
    return options


def standalone_client(settings: Settings, db: int) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url, db=db, health_check_interval=30, **client_options(settings)
    )
    return redis.Redis(connection_pool=pool)


def cluster_client(settings: Settings) -> RedisCluster:
    """A cluster client that reads the slot map when it is made; an unreachable cluster is
    :class:`StoreUnavailable`. Redirections (MOVED, ASK), TRYAGAIN and failovers are followed by the client."""
    try:
        return RedisCluster.from_url(
            settings.redis_url, connection_pool_class=redis.BlockingConnectionPool, **client_options(settings)
        )
    except (RedisClusterException, redis.RedisError) as exc:
        log.warning("Redis Cluster at %s unreachable: %s: %s", redacted(settings.redis_url), type(exc).__name__, exc)
        raise StoreUnavailable() from exc


class DeferredCluster(RedisCluster):
    """A cluster client made on its first command rather than at cold start, so a function whose cluster is
    unreachable then still builds its services, answers each invocation as Redis being down, and connects on a
    later one. ``RedisCluster.__init__`` is not run: this object hands every command, pipeline and node listing
    over to the client ``connect`` makes (the commands, scripts included, all go through ``execute_command``)."""

    def __init__(self, connect: Callable[[], RedisCluster], decode_responses: bool) -> None:
        self._connect = connect
        self._client: RedisCluster | None = None
        self._connecting = threading.Lock()
        self.encoder = Encoder("utf-8", "strict", decode_responses)  # type: ignore[no-untyped-call]

    def connected(self) -> RedisCluster:
        with self._connecting:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        return self.connected().execute_command(*args, **kwargs)  # type: ignore[no-untyped-call]

    def pipeline(self, transaction: Any = None, shard_hint: Any = None) -> ClusterPipeline:
        pipe: ClusterPipeline = self.connected().pipeline(transaction, shard_hint)  # type: ignore[no-untyped-call]
        return pipe

    def get_nodes(self) -> list[ClusterNode]:
        return list(self.connected().get_nodes())  # type: ignore[no-untyped-call]

    def get_encoder(self) -> Encoder:
        return self.encoder

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def queue_script(pipe: redis.client.Pipeline | ClusterPipeline, sha: str, keys: list[str], args: list[Any]) -> None:
    """Queue a loaded script (EVALSHA) on a pipeline. On a cluster it is sent to its keys' node, named here: redis-py's
    cluster pipeline refuses its ``evalsha`` method, and, given the bare command, would first ask a node for the
    keys (COMMAND GETKEYS), a round trip. A redirection is followed by the keys the command names."""
    if isinstance(pipe, ClusterPipeline):
        node = pipe.get_node_from_key(keys[0])  # type: ignore[no-untyped-call]
        pipe.execute_command("EVALSHA", sha, len(keys), *keys, *args, target_nodes=node)  # type: ignore[no-untyped-call]
    else:
        pipe.evalsha(sha, len(keys), *keys, *args)


def open_stores(settings: Settings) -> Stores:
    if settings.redis_mode == "cluster":
        log.info(
            "Redis: cluster mode at %s; CONNECTION_REDIS_DB and EVENT_QUEUE_REDIS_DB are ignored: both stores "
            "share database 0, told apart by key prefix",
            redacted(settings.redis_url),
        )
        client = DeferredCluster(lambda: cluster_client(settings), decode_responses=True)
        return Stores("cluster", client, client, 0, 0)
    connections = standalone_client(settings, settings.connection_redis_db)
    events = (
        connections
        if settings.event_queue_redis_db == settings.connection_redis_db
        else standalone_client(settings, settings.event_queue_redis_db)
    )
    return Stores("standalone", connections, events, settings.connection_redis_db, settings.event_queue_redis_db)
