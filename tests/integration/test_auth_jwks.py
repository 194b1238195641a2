"""RS256/ES256 tokens verified against a JWKS endpoint (a real HTTP server), through the real connect handler.

A JWKS that is down, broken or hanging refuses the token (401) — it never crashes the handler or hangs it.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
import redis

from connection_service import connect
from tests.integration.test_connect_disconnect import connect_event
from tests.support.jwks_server import JwksServer
from tests.support.lambda_env import LambdaContext, reset_cold_start

pytestmark = pytest.mark.usefixtures("lambda_env")


@pytest.fixture
def jwks(monkeypatch: pytest.MonkeyPatch) -> Iterator[JwksServer]:
    with JwksServer() as server:
        monkeypatch.delenv("JWT_SECRET")
        monkeypatch.setenv("JWKS_URL", server.url)
        monkeypatch.setenv("JWT_ALGORITHMS", "RS256,ES256")
        monkeypatch.setenv("JWKS_TIMEOUT_S", "0.3")
        reset_cold_start()
        yield server


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "user-1", "tenant_id": "tenant-a", "exp": int(time.time()) + 600, **extra}


def status(token: str, connection_id: str = "L0SM9cOFvHcCIhw=") -> int:
    answer = connect.handler(connect_event(token, connection_id), LambdaContext())
    assert "Traceback" not in answer.get("body", "")
    return int(answer["statusCode"])


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_a_token_signed_with_a_published_key_is_admitted(jwks: JwksServer, store: redis.Redis, algorithm: str) -> None:
    kid = jwks.add_key(algorithm)

    assert status(jwks.sign(claims(), kid)) == 200
    assert store.hget("conn:L0SM9cOFvHcCIhw=", "tenantId") == "tenant-a"


def test_the_key_set_is_cached(jwks: JwksServer, store: redis.Redis) -> None:
    kid = jwks.add_key()

    for n in range(3):
        assert status(jwks.sign(claims(), kid), f"conn{n}AAAAAAAAAA=") == 200
    assert jwks.fetches == 1


def test_a_rotated_key_is_fetched_and_the_retired_one_refused(jwks: JwksServer, store: redis.Redis) -> None:
    old = jwks.add_key()
    assert status(jwks.sign(claims(), old), "conn1AAAAAAAAAA=") == 200
    old_token = jwks.sign(claims(), old)

    new = jwks.rotate()
    assert status(jwks.sign(claims(), new), "conn2AAAAAAAAAA=") == 200  # unknown kid -> one refetch

    assert status(old_token, "conn3AAAAAAAAAA=") == 401
    assert store.exists("conn:conn3AAAAAAAAAA=") == 0
    assert jwks.fetches == 2


def test_unknown_kids_are_refused_and_refetch_at_most_once_per_interval(jwks: JwksServer, store: redis.Redis) -> None:
    kid = jwks.add_key()
    assert status(jwks.sign(claims(), kid)) == 200
    store.flushdb()

    for n in range(5):
        assert status(jwks.sign(claims(), kid, header_kid=f"made-up-{n}")) == 401
    assert store.keys("*") == []
    assert jwks.fetches == 2  # the cold start's fetch, then a single forced refetch for the whole flood


def with_header(token: str, header: dict[str, Any]) -> str:
    """The token with its header replaced (signature kept): headers pyjwt would not write."""
    _, payload, signature = token.split(".")
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{encoded}.{payload}.{signature}"


@pytest.mark.parametrize(
    "header",
    [{"alg": "RS256"}, {"alg": "RS256", "kid": ""}, {"alg": "RS256", "kid": 42}, {"alg": "RS256", "kid": ["k"]}],
    ids=["none", "empty", "number", "list"],
)
def test_a_missing_or_malformed_kid_is_refused(jwks: JwksServer, store: redis.Redis, header: dict[str, Any]) -> None:
    kid = jwks.add_key()

    assert status(with_header(jwks.sign(claims(), kid), header)) == 401
    assert store.keys("*") == []


def test_a_key_of_another_family_than_the_tokens_algorithm_is_refused(jwks: JwksServer, store: redis.Redis) -> None:
    ec_kid = jwks.add_key("ES256")
    rsa_kid = jwks.add_key("RS256")

    assert status(with_header(jwks.sign(claims(), rsa_kid), {"alg": "RS256", "kid": ec_kid})) == 401
    assert store.keys("*") == []


def test_a_symmetric_key_published_in_the_jwks_is_never_used_for_hmac(
    monkeypatch: pytest.MonkeyPatch, jwks: JwksServer, store: redis.Redis
) -> None:
    """An ``oct`` key in a JWKS is public: HS256 tokens are checked with JWT_SECRET only, never a JWKS key."""
    public_secret = b"published-for-everyone-to-see-0123456789"
    jwks.extra_jwks.append(
        {"kty": "oct", "kid": "sym", "use": "sig", "k": base64.urlsafe_b64encode(public_secret).rstrip(b"=").decode()}
    )
    monkeypatch.setenv("JWT_ALGORITHMS", "RS256,HS256")
    reset_cold_start()

    token = jwt.encode(claims(), public_secret, algorithm="HS256", headers={"kid": "sym"})
    assert status(token) == 401
    assert status(with_header(token, {"alg": "RS256", "kid": "sym"})) == 401
    assert store.keys("*") == []


def test_a_jwks_that_is_down_refuses_the_token_without_crashing(jwks: JwksServer, store: redis.Redis) -> None:
    kid = jwks.add_key()
    token = jwks.sign(claims(), kid)
    jwks.stop()

    assert status(token) == 401
    assert store.keys("*") == []


def test_a_broken_jwks_refuses_the_token(jwks: JwksServer, store: redis.Redis) -> None:
    kid = jwks.add_key()
    jwks.mode = "broken"

    assert status(jwks.sign(claims(), kid)) == 401
    assert jwks.fetches == 1
    assert store.keys("*") == []


def test_a_hanging_jwks_is_given_up_on_after_the_short_timeout(jwks: JwksServer, store: redis.Redis) -> None:
    """The stand-in holds the fetch for 3 s and then answers with the right key: only the 0.3 s fetch timeout
    makes this connect a 401 (pyjwt's default timeout is 30 s)."""
    kid = jwks.add_key()
    jwks.mode = "hanging"

    assert status(jwks.sign(claims(), kid)) == 401
    assert store.keys("*") == []


def test_after_an_outage_the_jwks_is_fetched_again(jwks: JwksServer, store: redis.Redis) -> None:
    kid = jwks.add_key()
    jwks.mode = "broken"
    assert status(jwks.sign(claims(), kid)) == 401

    jwks.mode = "ok"
    assert status(jwks.sign(claims(), kid)) == 200


def test_the_forced_refetch_is_allowed_again_after_its_interval() -> None:
    from connection_service.errors import Unauthorized
    from connection_service.tokens import JwksKeys

    with JwksServer() as server:
        kid = server.add_key()
        now = [0.0]
        keys = JwksKeys(server.url, timeout_s=1.0, lifespan_s=300, refetch_interval_s=30, clock=lambda: now[0])
        assert keys.key_for(kid, "RS256") is not None
        assert server.fetches == 1

        new = server.rotate()
        assert keys.key_for(new, "RS256") is not None  # first unknown kid: refetch right away
        newer = server.rotate()
        now[0] += 29
        with pytest.raises(Unauthorized):
            keys.key_for(newer, "RS256")  # within the interval: no fetch
        assert server.fetches == 2
        now[0] += 1
        assert keys.key_for(newer, "RS256") is not None
        assert server.fetches == 3
