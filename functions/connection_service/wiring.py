"""Cold-start wiring: the clients and service objects a function keeps between invocations.

Built once per process on first use, from the one settings object. Modules only some functions need are
imported by those: pyjwt by the connect function, the posting code by those that post (boto3 only where the
environment holds no credentials, see management_client.py).
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

from .eventlog import EventLog
from .metrics import Metrics
from .registry import ConnectionLimits, Registry
from .settings import Settings, get_settings
from .stores import RedisClient, Stores, open_stores

if TYPE_CHECKING:
    from .fanout import Broadcaster
    from .management_client import ManagementApi
    from .shared_types import Clock
    from .tokens import TokenVerifier


class Runtime:
    """Everything a function needs, made once: settings, Redis clients, registry, event log, gateway client.

    The Redis clients are made on first use (a cluster client reads the slot map as it is made), so an
    unreachable Redis is an error of the invocation that needs it, converted there, and the next one tries again.
    """

    def __init__(self, settings: Settings, clock: Clock = time.time) -> None:
        self.settings = settings
        self.clock = clock

    @functools.cached_property
    def stores(self) -> Stores:
        return open_stores(self.settings)

    @property
    def connections_redis(self) -> RedisClient:
        return self.stores.connections

    @property
    def events_redis(self) -> RedisClient:
        return self.stores.events

    @functools.cached_property
    def registry(self) -> Registry:
        settings = self.settings
        return Registry(
            self.connections_redis,
            connection_ttl_s=settings.connection_ttl_s,
            limits=ConnectionLimits(
                max_per_tenant=settings.max_connections_per_tenant,
                max_per_user=settings.max_connections_per_user,
                connect_rate_per_minute=settings.connect_rate_limit_per_minute,
            ),
        )

    @functools.cached_property
    def event_log(self) -> EventLog:
        settings = self.settings
        return EventLog(
            self.events_redis,
            max_len=settings.event_log_max_len,
            retention_s=settings.event_log_retention_s,
            idempotency_ttl_s=settings.idempotency_ttl_s,
        )

    @functools.cached_property
    def metrics(self) -> Metrics:
        return Metrics({"Service": self.settings.service_name, "Stage": self.settings.stage})

    @functools.cached_property
    def verifier(self) -> TokenVerifier:
        from .tokens import TokenVerifier  # only the connect function verifies tokens

        return TokenVerifier(self.settings)

    @functools.cached_property
    def gateway(self) -> ManagementApi:
        from .management_client import ManagementApi

        return ManagementApi.from_settings(self.settings)

    @functools.cached_property
    def broadcaster(self) -> Broadcaster:
        from .fanout import Broadcaster

        return Broadcaster(
            self.registry,
            self.event_log,
            self.gateway,
            self.clock,
            self.metrics,
            self.settings.max_frame_bytes,
        )


@functools.lru_cache(maxsize=1)
def current() -> Runtime:
    """This process's runtime (cold start on first call)."""
    return Runtime(get_settings())


def start() -> Runtime:
    """A function's init, called as its handler module is imported: the settings are read and validated now, so
    a misconfigured function fails to start, with an error naming the setting, instead of answering its first
    request with a 500. Raises :class:`~.settings.ConfigurationError` (or pydantic's ValidationError)."""
    return current()
