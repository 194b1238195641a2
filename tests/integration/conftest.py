"""Integration fixtures: the real handlers under a Lambda-like environment, against a real Redis: a single server,
then a real Redis Cluster (every test runs on both)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from connection_service.tokens import issue_token
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import reset_cold_start
from tests.support.redis_backends import RedisBackend
from tests.support.round_trips import round_trips  # noqa: F401 (a fixture of the suite)

SECRET = "integration-test-secret-0123456789abcdef0123456789abcdef0123456789abcdef"  # 64+ bytes: HS512 too
SERVICE_KEY = "integration-test-service-key"


def _import_handlers() -> None:
    """The handler modules validate their settings as they are imported (a function's init): import them once
    under valid settings, before any test module does; ``lambda_env`` starts them cold again for each test."""
    saved = dict(os.environ)
    os.environ.update({"JWT_SECRET": SECRET, "INTERNAL_SERVICE_KEY": SERVICE_KEY, "AWS_SAM_LOCAL": "false"})
    try:
        from connection_service import broadcast, connect, disconnect, message  # noqa: F401
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_cold_start()


_import_handlers()


@pytest.fixture(scope="session")
def _connections_api_server() -> Iterator[ConnectionsApi]:
    with ConnectionsApi() as api:
        yield api


@pytest.fixture
def connections_api(_connections_api_server: ConnectionsApi) -> ConnectionsApi:
    """The @connections stand-in, emptied for each test."""
    _connections_api_server.reset()
    return _connections_api_server


@pytest.fixture(scope="session")
def _store_clients(redis_backend: RedisBackend) -> Iterator[tuple[redis.Redis, redis.Redis]]:
    connections, events = redis_backend.connection_store(), redis_backend.event_store()
    yield connections, events  # type: ignore[misc]
    connections.close()
    events.close()


@pytest.fixture
def store(_store_clients: tuple[redis.Redis, redis.Redis]) -> redis.Redis:
    """The connection store (DB 1, or the cluster); both stores are emptied before each test."""
    connections, events = _store_clients
    connections.flushdb()
    events.flushdb()
    return connections


@pytest.fixture
def event_store(_store_clients: tuple[redis.Redis, redis.Redis], store: redis.Redis) -> redis.Redis:
    """The event log (DB 2, or the cluster: its keys start with ``log:``)."""
    return _store_clients[1]


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch, redis_backend: RedisBackend, store: redis.Redis, connections_api: ConnectionsApi
) -> Iterator[None]:
    """The environment template.yaml gives the functions, pointed at the test Redis and @connections stand-in."""
    for name, value in {
        **redis_backend.environment(),
        "JWT_SECRET": SECRET,
        "JWT_ALGORITHMS": "HS256",
        "INTERNAL_SERVICE_KEY": SERVICE_KEY,
        "WEBSOCKET_API_ENDPOINT": connections_api.endpoint,
        "ALLOWED_ORIGINS": "http://localhost:3000",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SAM_LOCAL": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir("/")  # no stray .env
    reset_cold_start()
    yield
    reset_cold_start()


@pytest.fixture
def token() -> Callable[..., str]:
    def make(tenant: str = "tenant-a", user: str = "user-1", ttl: int = 3600) -> str:
        return issue_token(SECRET, tenant, user, ttl, time.time())

    return make
