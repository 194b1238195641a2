"""Adversarial tokens through the real connect handler (HS256 secret and RS256/ES256 public key), real Redis.

Every refusal is a 401 with a generic body, writes nothing to Redis and never logs the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connection_service import connect
from tests.integration.conftest import SECRET
from tests.integration.test_connect_disconnect import connect_event
from tests.support.lambda_env import LambdaContext, reset_cold_start

pytestmark = pytest.mark.usefixtures("lambda_env")

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
EC_PUBLIC_PEM = EC_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)


def claims(**extra: Any) -> dict[str, Any]:
    return {"sub": "user-1", "tenant_id": "tenant-a", "exp": int(time.time()) + 600, **extra}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def hand_signed(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    """A token signed with HMAC-SHA256 by hand (pyjwt refuses to use a PEM as an HMAC secret)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    return f"{signing_input}.{b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())}"


def forged_signature() -> str:
    header, _, signature = jwt.encode(claims(), SECRET).split(".")
    other = jwt.encode(claims(tenant_id="tenant-b"), SECRET).split(".")[1]
    return f"{header}.{other}.{signature}"  # tenant-a's signature on tenant-b's claims


def configure(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_cold_start()


def refused(store: redis.Redis, token: str | None, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    with caplog.at_level(logging.DEBUG):
        answer = connect.handler(connect_event(token), LambdaContext())
    assert answer["statusCode"] == 401
    assert json.loads(answer["body"]) == {"error": {"code": "unauthorized", "message": "invalid or missing token"}}
    assert "Traceback" not in caplog.text
    if token:
        assert token not in caplog.text
        assert token[-20:] not in caplog.text
    assert store.keys("*") == []
    return answer


def admitted(store: redis.Redis, token: str) -> None:
    answer = connect.handler(connect_event(token), LambdaContext())
    assert answer["statusCode"] == 200
    assert store.exists("conn:L0SM9cOFvHcCIhw=")


HS256_CASES: dict[str, Callable[[], str]] = {
    "forged-signature": forged_signature,
    "wrong-secret": lambda: jwt.encode(claims(), "another-secret-0123456789abcdef0123"),
    "expired": lambda: jwt.encode(claims(exp=int(time.time()) - 5), SECRET),
    "not-yet-valid": lambda: jwt.encode(claims(nbf=int(time.time()) + 600), SECRET),
    "issued-in-the-future": lambda: jwt.encode(claims(iat=int(time.time()) + 600), SECRET),
    "no-exp": lambda: jwt.encode({"sub": "user-1", "tenant_id": "tenant-a"}, SECRET),
    "no-sub": lambda: jwt.encode({"tenant_id": "tenant-a", "exp": int(time.time()) + 600}, SECRET),
    "unsigned-alg-none": lambda: jwt.encode(claims(), "", algorithm="none"),
    "unsigned-alg-None-case": lambda: hand_signed({"alg": "None"}, claims(), b"").rsplit(".", 1)[0] + ".",
    "alg-HS512-not-allowed": lambda: jwt.encode(claims(), SECRET, algorithm="HS512"),
    "alg-missing": lambda: hand_signed({"typ": "JWT"}, claims(), SECRET.encode()),
    "alg-not-a-string": lambda: hand_signed({"alg": ["HS256"]}, claims(), SECRET.encode()),
    "header-not-an-object": lambda: f"{b64(b'[1]')}.{b64(json.dumps(claims()).encode())}.AAAA",
    "rs256-with-no-public-key": lambda: jwt.encode(claims(), RSA_KEY, algorithm="RS256"),
    "missing-tenant-claim": lambda: jwt.encode({"sub": "user-1", "exp": int(time.time()) + 600}, SECRET),
    "tenant-not-a-string": lambda: jwt.encode(claims(tenant_id=["tenant-a"]), SECRET),
    "tenant-empty": lambda: jwt.encode(claims(tenant_id=""), SECRET),
    "tenant-hash-tag-open": lambda: jwt.encode(claims(tenant_id="a}:conns{t:b"), SECRET),
    "tenant-hash-tag-close": lambda: jwt.encode(claims(tenant_id="tenant-b}"), SECRET),
    "tenant-newline": lambda: jwt.encode(claims(tenant_id="tenant-a\nconnected admin"), SECRET),
    "tenant-too-long": lambda: jwt.encode(claims(tenant_id="t" * 129), SECRET),
    "user-control-character": lambda: jwt.encode(claims(sub="user\x00-1"), SECRET),
    "huge-100KB-validly-signed": lambda: jwt.encode(claims(padding="x" * 100_000), SECRET),
    "non-ascii-garbage": lambda: "ünïcødé.☃💥.\udcff€",
    "three-dots": lambda: "...",
    "binary-looking": lambda: "\x00\x01\x02.\x03.\x04",
}


@pytest.mark.parametrize("make", HS256_CASES.values(), ids=HS256_CASES.keys())
def test_bad_tokens_are_refused_with_401_and_nothing_written(
    store: redis.Redis, caplog: pytest.LogCaptureFixture, make: Callable[[], str]
) -> None:
    refused(store, make(), caplog)


def test_the_controls_of_the_bad_token_cases_are_admitted(store: redis.Redis) -> None:
    """The same shapes, made right, pass: each refusal above is down to its one defect."""
    admitted(store, jwt.encode(claims(iat=int(time.time()), nbf=int(time.time()) - 5, padding="x" * 2000), SECRET))


@pytest.mark.parametrize("source", ["query", "bearer"])
def test_refusals_are_the_same_from_the_bearer_header(
    store: redis.Redis, caplog: pytest.LogCaptureFixture, source: str
) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS512")
    event = connect_event(None)
    if source == "query":
        event = connect_event(token)
    else:
        event["headers"]["Authorization"] = f"Bearer {token}"  # type: ignore[index]

    assert connect.handler(event, LambdaContext())["statusCode"] == 401
    assert store.keys("*") == []


def test_audience_and_issuer_are_enforced(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    configure(monkeypatch, JWT_AUDIENCE="dashboards", JWT_ISSUER="ts-auth-service")

    refused(store, jwt.encode(claims(aud="other", iss="ts-auth-service"), SECRET), caplog)
    refused(store, jwt.encode(claims(aud="dashboards", iss="evil-issuer"), SECRET), caplog)
    refused(store, jwt.encode(claims(), SECRET), caplog)  # neither claim
    admitted(store, jwt.encode(claims(aud="dashboards", iss="ts-auth-service"), SECRET))


def test_the_tenant_claim_is_configurable(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    configure(monkeypatch, JWT_TENANT_CLAIM="org_id")

    refused(store, jwt.encode(claims(), SECRET), caplog)  # tenant_id is not the claim any more
    admitted(store, jwt.encode({"sub": "user-1", "org_id": "acme", "exp": int(time.time()) + 60}, SECRET))
    assert store.hget("conn:L0SM9cOFvHcCIhw=", "tenantId") == "acme"


@pytest.mark.parametrize(
    ("algorithm", "private_key", "public_pem"), [("RS256", RSA_KEY, RSA_PUBLIC_PEM), ("ES256", EC_KEY, EC_PUBLIC_PEM)]
)
def test_asymmetric_tokens_verify_with_the_configured_public_key(
    monkeypatch: pytest.MonkeyPatch,
    store: redis.Redis,
    caplog: pytest.LogCaptureFixture,
    algorithm: str,
    private_key: Any,
    public_pem: bytes,
) -> None:
    monkeypatch.delenv("JWT_SECRET")
    configure(monkeypatch, JWT_ALGORITHMS=algorithm, JWT_PUBLIC_KEY=public_pem.decode())
    other = ec.generate_private_key(ec.SECP256R1()) if algorithm == "ES256" else rsa.generate_private_key(65537, 2048)

    refused(store, jwt.encode(claims(), other, algorithm=algorithm), caplog)  # another key pair
    refused(store, jwt.encode(claims(), SECRET, algorithm="HS256"), caplog)  # HS256 not allowed
    admitted(store, jwt.encode(claims(), private_key, algorithm=algorithm))


def test_algorithm_confusion_hs256_signed_with_the_rsa_public_key_is_refused(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("JWT_SECRET")
    configure(monkeypatch, JWT_ALGORITHMS="RS256", JWT_PUBLIC_KEY=RSA_PUBLIC_PEM.decode())

    refused(store, hand_signed({"alg": "HS256", "typ": "JWT"}, claims(), RSA_PUBLIC_PEM), caplog)
    admitted(store, jwt.encode(claims(), RSA_KEY, algorithm="RS256"))


def test_algorithm_confusion_is_refused_even_with_hs256_allowed_beside_rs256(
    monkeypatch: pytest.MonkeyPatch, store: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """HMAC checks use JWT_SECRET only, never the public key, whatever the token's header says."""
    configure(monkeypatch, JWT_ALGORITHMS="RS256,HS256", JWT_PUBLIC_KEY=RSA_PUBLIC_PEM.decode())

    refused(store, hand_signed({"alg": "HS256", "typ": "JWT"}, claims(), RSA_PUBLIC_PEM), caplog)
    admitted(store, jwt.encode(claims(), SECRET, algorithm="HS256"))
    store.flushdb()
    admitted(store, jwt.encode(claims(), RSA_KEY, algorithm="RS256"))
