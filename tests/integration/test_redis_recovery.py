"""Redis down, then back: the same warm function instance refuses with 503 meanwhile and recovers by itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from connection_service import connect
from local.redis_server import RedisServer
from tests.support.lambda_env import LambdaContext, load_event, reset_cold_start
from tests.support.redis_backends import STANDALONE

# A single server's outage and return (a cluster's nodes failing over: tests/integration/test_cluster.py).
pytestmark = pytest.mark.parametrize("redis_backend", [STANDALONE], indirect=True)


@pytest.fixture
def own_redis(lambda_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[RedisServer]:
    server = RedisServer().start()
    monkeypatch.setenv("REDIS_URL", server.url)
    reset_cold_start()
    yield server
    server.stop()


def connect_as(token: str, connection_id: str) -> int:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token)
    event["requestContext"]["connectionId"] = connection_id
    return int(connect.handler(event, LambdaContext())["statusCode"])


def test_connects_are_refused_while_redis_is_down_and_accepted_when_it_returns(
    own_redis: RedisServer, token: Callable[..., str]
) -> None:
    assert connect_as(token(), "before-outage01=") == 200

    own_redis.stop()
    assert connect_as(token(), "during-outage01=") == 503

    with RedisServer(port=own_redis.port):  # same address, empty: the scripts must be loaded again too
        assert connect_as(token(), "after-outage001=") == 200
