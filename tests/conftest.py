"""Session-wide fixtures: real Redis servers started for the test session (or ``TEST_REDIS_URL``), and a real Redis
Cluster (3 masters, 1 replica each, on loopback) that the integration and e2e suites run against as well."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.redis_server import EmbeddedCluster, RedisServer
from tests.support.redis_backends import CLUSTER, STANDALONE, RedisBackend


@pytest.fixture(scope="session", autouse=True)
def _private_data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Gateways started by the tests keep their local CA in a directory of the session, never in the user's home."""
    previous = os.environ.get("XDG_DATA_HOME")
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("data-home"))
    yield
    if previous is None:
        os.environ.pop("XDG_DATA_HOME", None)
    else:
        os.environ["XDG_DATA_HOME"] = previous


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server: ``TEST_REDIS_URL`` when set, else one started for this session."""
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        yield configured
        return
    with RedisServer() as server:
        yield server.url


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[EmbeddedCluster]:
    """A real Redis Cluster for the session, started on first use and stopped by the pids of its nodes."""
    with EmbeddedCluster(masters=3, replicas=1) as cluster:
        yield cluster


@pytest.fixture(scope="session", params=[STANDALONE, CLUSTER])
def redis_backend(request: pytest.FixtureRequest) -> RedisBackend:
    """The Redis the integration and e2e suites run against: each of their tests runs on both."""
    if request.param == CLUSTER:
        cluster: EmbeddedCluster = request.getfixturevalue("redis_cluster")
        return RedisBackend(CLUSTER, cluster.url)
    return RedisBackend(STANDALONE, request.getfixturevalue("redis_url"))
