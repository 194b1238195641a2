"""Integration fixtures: the real handlers under a Lambda-like environment, against a real Redis."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
import redis

from connection_service.auth import issue_token
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import reset_cold_start

SECRET = "integration-test-secret-0123456789abcdef"
SERVICE_KEY = "integration-test-service-key"


@pytest.fixture(scope="session")
def _connections_api_server() -> Iterator[ConnectionsApi]:
    with ConnectionsApi() as api:
        yield api


@pytest.fixture
def connections_api(_connections_api_server: ConnectionsApi) -> ConnectionsApi:
    """The @connections stand-in, emptied for each test."""
    _connections_api_server.reset()
    return _connections_api_server


@pytest.fixture
def store(redis_url: str) -> Iterator[redis.Redis]:
    """The connection-state DB (1); DBs 1 and 2 are emptied before each test."""
    client = redis.Redis.from_url(redis_url, db=1, decode_responses=True)
    client.flushdb()
    redis.Redis.from_url(redis_url, db=2).flushdb()
    yield client
    client.close()


@pytest.fixture
def event_store(redis_url: str, store: redis.Redis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, db=2, decode_responses=True)
    yield client
    client.close()


@pytest.fixture
def lambda_env(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, store: redis.Redis, connections_api: ConnectionsApi
) -> Iterator[None]:
    """The environment template.yaml gives the functions, pointed at the test Redis and @connections stand-in."""
    for name, value in {
        "REDIS_URL": redis_url,
        "CONNECTION_REDIS_DB": "1",
        "EVENT_QUEUE_REDIS_DB": "2",
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
