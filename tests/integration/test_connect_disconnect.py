from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest
import redis

from connection_service import connect, disconnect
from tests.integration.conftest import SECRET
from tests.support.lambda_env import LambdaContext, load_event

pytestmark = pytest.mark.usefixtures("lambda_env")


def connect_event(token: str | None, connection_id: str = "L0SM9cOFvHcCIhw=") -> dict[str, object]:
    event = load_event("websocket_connect")
    event["requestContext"]["connectionId"] = connection_id
    # Set after parsing, not by text replacement: adversarial tokens may hold quotes or control characters.
    event["queryStringParameters"]["token"] = token or ""
    event["multiValueQueryStringParameters"]["token"] = [token or ""]
    if token is None:
        del event["queryStringParameters"]
        del event["multiValueQueryStringParameters"]
    return event


def test_connect_registers_the_connection_under_its_tenant(store: redis.Redis, token: Callable[..., str]) -> None:
    answer = connect.handler(connect_event(token("tenant-a", "user-1")), LambdaContext())

    assert answer["statusCode"] == 200
    state = store.hgetall("conn:L0SM9cOFvHcCIhw=")
    assert state["tenantId"] == "tenant-a"
    assert state["userId"] == "user-1"
    assert 0 < store.ttl("conn:L0SM9cOFvHcCIhw=") <= 7200 + 600
    assert store.zrange("{t:tenant-a}:conns", 0, -1) == ["L0SM9cOFvHcCIhw="]
    assert "token" not in str(state).lower()


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda t: None, id="missing"),
        pytest.param(lambda t: "not-a-jwt", id="garbage"),
        pytest.param(lambda t: t(ttl=-10), id="expired"),
        pytest.param(
            lambda t: jwt.encode(
                {"sub": "u", "tenant_id": "x", "exp": time.time() + 60}, "wrong-secret-0123456789abcdef0123456789"
            ),
            id="wrong-secret",
        ),
        pytest.param(
            lambda t: jwt.encode({"sub": "u", "tenant_id": "x", "exp": time.time() + 60}, "", algorithm="none"),
            id="unsigned",
        ),
        pytest.param(
            lambda t: jwt.encode({"sub": "u", "exp": time.time() + 60}, SECRET),
            id="no-tenant",
        ),
    ],
)
def test_connect_refuses_bad_tokens_with_401(
    store: redis.Redis, token: Callable[..., str], make_token: Callable[..., str | None]
) -> None:
    answer = connect.handler(connect_event(make_token(token)), LambdaContext())

    assert answer["statusCode"] == 401
    assert "Traceback" not in answer.get("body", "")
    assert store.keys("*") == []


def test_connect_accepts_a_bearer_header(store: redis.Redis, token: Callable[..., str]) -> None:
    event = connect_event(None)
    event["headers"]["Authorization"] = f"Bearer {token()}"  # type: ignore[index]

    assert connect.handler(event, LambdaContext())["statusCode"] == 200
    assert store.exists("conn:L0SM9cOFvHcCIhw=")


def test_connect_refuses_a_foreign_origin_with_403(store: redis.Redis, token: Callable[..., str]) -> None:
    event = connect_event(token())
    event["headers"]["Origin"] = "https://evil.example"  # type: ignore[index]

    assert connect.handler(event, LambdaContext())["statusCode"] == 403
    assert store.keys("*") == []


def test_disconnect_removes_everything_and_is_idempotent(store: redis.Redis, token: Callable[..., str]) -> None:
    connect.handler(connect_event(token()), LambdaContext())
    from connection_service import wiring

    wiring.current().registry.subscribe("tenant-a", "L0SM9cOFvHcCIhw=", "conv-1", time.time())
    event = load_event("websocket_disconnect")
    event["requestContext"]["connectionId"] = "L0SM9cOFvHcCIhw="

    assert disconnect.handler(event, LambdaContext())["statusCode"] == 200
    assert store.keys("*conv*") == []
    assert store.zcard("{t:tenant-a}:conns") == 0
    assert not store.exists("conn:L0SM9cOFvHcCIhw=")
    assert disconnect.handler(event, LambdaContext())["statusCode"] == 200


def test_connect_answers_503_when_redis_is_down(monkeypatch: pytest.MonkeyPatch, token: Callable[..., str]) -> None:
    from tests.support.lambda_env import reset_cold_start

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    reset_cold_start()

    answer = connect.handler(connect_event(token()), LambdaContext())

    assert answer["statusCode"] == 503
