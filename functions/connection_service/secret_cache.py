"""Secrets read from AWS Secrets Manager by ARN: fetched at init, cached for a TTL, fetched again on rotation.

A :class:`Secret` holds one value. Given a plain value (local development) it never changes. Given a fetch, the
first :meth:`Secret.value` fetches it (a function's init does this, see wiring.start); later calls answer from the
cache until ``ttl_s`` has passed, then fetch again. A check that failed with the cached value calls
:meth:`Secret.refetch` (at most once per ``refetch_interval_s``, so a flood of bad tokens or keys cannot become a
flood of fetches); when the value changed (a rotation) the check is tried once more with the new one.

boto3 is imported only when a secret is fetched: a function configured with plain values never imports it.
Values are never logged; errors name the setting and the secret's ARN, never its value.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from .settings import ConfigurationError

log = logging.getLogger(__name__)

Fetch = Callable[[], str]


class SecretUnavailable(ConfigurationError):
    """A secret could not be read: it does not exist, it may not be read, it holds no text, or AWS is unreachable."""


class Secret:
    """One secret value, plain or fetched (see the module's docstring). Thread-safe."""

    def __init__(
        self,
        name: str,
        fetch: Fetch | None = None,
        *,
        value: str = "",
        ttl_s: float = 300.0,
        refetch_interval_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._fetch = fetch
        self._value = value
        self._ttl_s = ttl_s
        self._refetch_interval_s = refetch_interval_s
        self._clock = clock
        self._fetched_at: float | None = None
        self._last_refetch: float | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Secret({self.name!r}, {'fetched' if self._fetch else 'plain'})"

    @property
    def fetched(self) -> bool:
        """Whether the value comes from Secrets Manager (not a plain value)."""
        return self._fetch is not None

    def value(self) -> str:
        """The value: cached, fetched again once the TTL has passed. The first fetch raises
        :class:`SecretUnavailable`; a later one that fails keeps the cached value (logged) until the next TTL."""
        if self._fetch is None:
            return self._value
        with self._lock:
            now = self._clock()
            if self._fetched_at is None:
                self._value = self._fetch()
                self._fetched_at = now
            elif now - self._fetched_at >= self._ttl_s:
                self._fetched_at = now
                try:
                    self._value = self._fetch()
                except SecretUnavailable as exc:
                    log.warning("%s: keeping the cached value, refreshing it failed: %s", self.name, exc)
            return self._value

    def refetch(self) -> bool:
        """A check failed with the cached value: fetch it again, unless that was done less than
        ``refetch_interval_s`` ago. True when the value changed (the check is worth trying again)."""
        if self._fetch is None:
            return False
        with self._lock:
            now = self._clock()
            if self._last_refetch is not None and now - self._last_refetch < self._refetch_interval_s:
                return False
            self._last_refetch = now
            try:
                fresh = self._fetch()
            except SecretUnavailable as exc:
                log.warning("%s: refetch after a failed check did not succeed: %s", self.name, exc)
                return False
            self._fetched_at = now
            changed = fresh != self._value
            self._value = fresh
        if changed:
            log.info("%s: a new value was fetched (rotated)", self.name)
        return changed


def _region_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[3] if arn.startswith("arn:") and len(parts) > 4 and parts[3] else None


class SecretsManagerReader:
    """Reads secret strings with ``secretsmanager:GetSecretValue``; one boto3 client, made on first use.

    The region is the ARN's (else the environment's); ``endpoint_url`` (the local gateway's moto) when given,
    else boto3's own ``AWS_ENDPOINT_URL`` handling applies."""

    def __init__(self, endpoint_url: str = "", timeout_s: float = 3.0) -> None:
        self._endpoint_url = endpoint_url or None
        self._timeout_s = timeout_s
        self._clients: dict[str | None, Any] = {}
        self._lock = threading.Lock()

    def _client(self, region: str | None) -> Any:
        with self._lock:
            client = self._clients.get(region)
            if client is None:
                import boto3  # only when a secret is configured by ARN: the import costs cold start
                from botocore.config import Config

                config = Config(
                    connect_timeout=self._timeout_s,
                    read_timeout=self._timeout_s,
                    retries={"max_attempts": 2, "mode": "standard"},
                )
                client = boto3.session.Session().client(
                    "secretsmanager", region_name=region, endpoint_url=self._endpoint_url, config=config
                )
                self._clients[region] = client
            return client

    def read(self, setting: str, secret_id: str) -> str:
        """The secret's current string; :class:`SecretUnavailable` naming ``setting`` and ``secret_id``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self._client(_region_of(secret_id)).get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "ClientError")
            raise SecretUnavailable(f"{setting}: cannot read secret {secret_id}: {code}") from exc
        except BotoCoreError as exc:
            raise SecretUnavailable(f"{setting}: cannot read secret {secret_id}: {type(exc).__name__}") from exc
        value = answer.get("SecretString")
        if not isinstance(value, str) or not value:
            raise SecretUnavailable(f"{setting}: secret {secret_id} holds no text (SecretString)")
        return value

    def secret(
        self,
        setting: str,
        secret_id: str,
        *,
        ttl_s: float,
        refetch_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> Secret:
        """A :class:`Secret` fetched from ``secret_id`` by this reader, named after its ``setting``."""
        return Secret(
            setting,
            lambda: self.read(setting, secret_id),
            ttl_s=ttl_s,
            refetch_interval_s=refetch_interval_s,
            clock=clock,
        )
