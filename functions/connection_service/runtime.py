"""Cold-start wiring: the clients and service objects a function keeps between invocations.

Built once per process on first use, from the one settings object. Modules only some functions need are
imported by those: pyjwt by the connect function, the posting code by those that post (boto3 only where the
environment holds no credentials, see gateway.py).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import redis

from .config import Settings, get_settings
from .eventlog import EventLog
from .registry import ConnectionLimits, Registry

if TYPE_CHECKING:
    from .auth import TokenVerifier
    from .fanout import Broadcaster
    from .gateway import ManagementApi

Clock = Callable[[], float]


REDIS_POOL_SIZE = 64


def redis_client(settings: Settings, db: int) -> redis.Redis:
    """A client whose pool waits for a free connection (up to the socket timeout) rather than failing when every
    connection is busy: a host that runs many invocations at once in one process (the local gateway) must not
    turn a burst into 503s."""
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        db=db,
        decode_responses=True,
        socket_timeout=settings.redis_socket_timeout_s,
        socket_connect_timeout=settings.redis_socket_timeout_s,
        health_check_interval=30,
        max_connections=REDIS_POOL_SIZE,
        timeout=settings.redis_socket_timeout_s,
    )
    return redis.Redis(connection_pool=pool)


class Runtime:
    """Everything a function needs, made once: settings, Redis clients, registry, event log, gateway client."""

    def __init__(self, settings: Settings, clock: Clock = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.connections_redis = redis_client(settings, settings.connection_redis_db)
        self.events_redis = (
            self.connections_redis
            if settings.event_queue_redis_db == settings.connection_redis_db
            else redis_client(settings, settings.event_queue_redis_db)
        )
        self.registry = Registry(
            self.connections_redis,
            connection_ttl_s=settings.connection_ttl_s,
            limits=ConnectionLimits(
                max_per_tenant=settings.max_connections_per_tenant,
                max_per_user=settings.max_connections_per_user,
                connect_rate_per_minute=settings.connect_rate_limit_per_minute,
            ),
        )
        self.event_log = EventLog(
            self.events_redis,
            max_len=settings.event_log_max_len,
            retention_s=settings.event_log_retention_s,
            idempotency_ttl_s=settings.idempotency_ttl_s,
        )

    @functools.cached_property
    def verifier(self) -> TokenVerifier:
        from .auth import TokenVerifier  # only the connect function verifies tokens

        return TokenVerifier(self.settings)

    @functools.cached_property
    def gateway(self) -> ManagementApi:
        from .gateway import ManagementApi

        return ManagementApi.from_settings(self.settings)

    @functools.cached_property
    def broadcaster(self) -> Broadcaster:
        from .fanout import Broadcaster

        return Broadcaster(
            self.registry,
            self.event_log,
            self.gateway,
            self.clock,
            self.settings.max_frame_bytes,
        )


@functools.lru_cache(maxsize=1)
def current() -> Runtime:
    """This process's runtime (cold start on first call)."""
    return Runtime(get_settings())
