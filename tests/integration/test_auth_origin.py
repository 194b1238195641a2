"""Origin checks through the real connect handler: cross-site WebSocket hijacking is refused with 403."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from connection_service import connect
from tests.integration.test_connect_disconnect import connect_event
from tests.support.lambda_env import LambdaContext, reset_cold_start

pytestmark = pytest.mark.usefixtures("lambda_env")


def connect_from(origin: str | None, token: str) -> int:
    event = connect_event(token)
    for headers in ("headers", "multiValueHeaders"):
        event[headers].pop("Origin")  # type: ignore[attr-defined]
    if origin is not None:
        event["headers"]["Origin"] = origin  # type: ignore[index]
        event["multiValueHeaders"]["Origin"] = [origin]  # type: ignore[index]
    return int(connect.handler(event, LambdaContext())["statusCode"])


def configure(monkeypatch: pytest.MonkeyPatch, origins: str, allow_missing: str = "true") -> None:
    monkeypatch.setenv("ALLOWED_ORIGINS", origins)
    monkeypatch.setenv("ALLOW_MISSING_ORIGIN", allow_missing)
    reset_cold_start()


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:3000", "HTTP://LocalHost:3000", "http://localhost:3000/", "https://app.nevermisscall.com"],
)
def test_allowed_origins_connect(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, token: Callable[..., str], origin: str
) -> None:
    configure(monkeypatch, "http://localhost:3000, https://app.nevermisscall.com")

    assert connect_from(origin, token()) == 200
    assert store.exists("conn:L0SM9cOFvHcCIhw=")


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "http://localhost:3000.evil.example",
        "http://localhost:30001",
        "https://localhost:3000",  # other scheme
        "http://localhost",  # other port
        "http://evil.localhost:3000",
        "http://localhost:3000, https://evil.example",
        "null",
        "NULL",
        "http://localhost:3000@evil.example",
        "http://evil.example@localhost:3000",
        "http://localhost:3000/path",
        "not an origin",
    ],
)
def test_foreign_origins_are_refused_with_403_before_anything_is_written(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, token: Callable[..., str], origin: str
) -> None:
    configure(monkeypatch, "http://localhost:3000")

    assert connect_from(origin, token()) == 403
    assert store.keys("*") == []


def test_configured_origins_are_normalized(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, token: Callable[..., str]
) -> None:
    configure(monkeypatch, "HTTPS://App.NeverMissCall.com:443/")

    assert connect_from("https://app.nevermisscall.com", token()) == 200


def test_a_missing_origin_is_allowed_by_default(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, token: Callable[..., str]
) -> None:
    monkeypatch.delenv("ALLOW_MISSING_ORIGIN", raising=False)
    reset_cold_start()

    assert connect_from(None, token()) == 200


@pytest.mark.parametrize("origin", [None, "", "   "])
def test_a_missing_origin_is_refused_when_not_allowed(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, token: Callable[..., str], origin: str | None
) -> None:
    configure(monkeypatch, "http://localhost:3000", allow_missing="false")

    assert connect_from(origin, token()) == 403
    assert store.keys("*") == []
    assert connect_from("http://localhost:3000", token()) == 200


def test_the_wildcard_allows_any_origin_but_null(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, token: Callable[..., str]
) -> None:
    configure(monkeypatch, "*")

    assert connect_from("null", token()) == 403
    assert connect_from("https://anything.example", token()) == 200


def test_null_is_allowed_only_when_listed(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, token: Callable[..., str]
) -> None:
    configure(monkeypatch, "http://localhost:3000,null")

    assert connect_from("null", token()) == 200


def test_the_origin_is_checked_before_the_token(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, token: Callable[..., str]
) -> None:
    """A cross-site page gets 403 whatever it sends: no key fetch or ts-auth-service call is spent on it."""
    configure(monkeypatch, "http://localhost:3000")

    assert connect_from("https://evil.example", "not-a-token") == 403
