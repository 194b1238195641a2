"""Session-wide fixtures: a real Redis server started for the test session (or ``TEST_REDIS_URL``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from local.redis_server import RedisServer


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """URL of a real Redis server: ``TEST_REDIS_URL`` when set, else one started for this session."""
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        yield configured
        return
    with RedisServer() as server:
        yield server.url
