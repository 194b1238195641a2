"""Cold-start wiring: the clients and service objects a function keeps between invocations.

Built once per process on first use, from the one settings object. Modules only some functions need are
imported by those: pyjwt by the connect function, the posting code by those that post (boto3 only where the
environment holds no credentials, see management_client.py, or where a secret is fetched by ARN).

Secrets: each function names, in :func:`start`, the ones it uses; those are checked and (when configured by ARN)
fetched from Secrets Manager during its init, so a missing or unreadable secret fails the init naming it.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

from .eventlog import EventLog
from .metrics import Metrics
from .registry import ConnectionLimits, Registry
from .secret_cache import Secret, SecretsManagerReader
from .settings import SecretStr, Settings, get_settings
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

    def __init__(self, settings: Settings, clock: Clock = time.time, secrets_clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self.clock = clock
        self._secrets_clock = secrets_clock
        self._secrets: dict[str, Secret] = {}

    @functools.cached_property
    def _secrets_reader(self) -> SecretsManagerReader:
        settings = self.settings
        return SecretsManagerReader(settings.aws_endpoint_url, timeout_s=settings.upstream_timeout_s)

    def secret(self, field: str) -> Secret:
        """The secret of settings field ``field`` (``jwt_secret``, ``internal_service_key``, ``redis_password``):
        fetched by its ARN when one applies (cached, refreshed on rotation), else the plain value. Raises
        :class:`~.settings.ConfigurationError` when a required one has neither."""
        secret = self._secrets.get(field)
        if secret is None:
            settings = self.settings
            if field != "redis_password":
                settings.require_secrets((field,))  # ConfigurationError: neither a value nor an ARN
            arn = settings.secret_arn(field)
            if arn:
                secret = self._secrets_reader.secret(
                    field.upper(),
                    arn,
                    ttl_s=settings.secrets_cache_ttl_s,
                    refetch_interval_s=settings.secrets_refetch_interval_s,
                    clock=self._secrets_clock,
                )
            else:
                secret = Secret(field.upper(), value=getattr(settings, field).get_secret_value())
            self._secrets[field] = secret
        return secret

    @property
    def jwt_secret(self) -> Secret:
        return self.secret("jwt_secret")

    @property
    def internal_service_key(self) -> Secret:
        return self.secret("internal_service_key")

    @functools.cached_property
    def stores(self) -> Stores:
        settings = self.settings
        if settings.secret_arn("redis_password"):
            # Read once, as the clients are made: a rotated password reaches the next instance (docs/deploy.md).
            password = self.secret("redis_password").value()
            settings = settings.replaced(redis_password=SecretStr(password))
        return open_stores(settings)

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
            single_node=settings.redis_mode == "standalone",
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

        return TokenVerifier(self.settings, self.jwt_secret)

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


def start(*needs: str) -> Runtime:
    """A function's init, called as its handler module is imported with the secrets it uses (settings fields:
    ``jwt_secret``, ``internal_service_key``): the settings are read and validated now, and those secrets (and the
    Redis password when it has an ARN) are checked and fetched, so a misconfigured function fails to start, with an
    error naming the setting, instead of answering its first request with a 500. Raises
    :class:`~.settings.ConfigurationError` (:class:`~.settings.InvalidSettings` for a value of the wrong type,
    :class:`~.secret_cache.SecretUnavailable` for a secret that cannot be read)."""
    runtime = current()
    runtime.settings.require_secrets(needs)
    for field in (*needs, "redis_password"):
        secret = runtime.secret(field)
        if secret.fetched:
            secret.value()
    return runtime
