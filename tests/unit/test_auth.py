from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from connection_service.auth import Identity, TokenVerifier, issue_token
from connection_service.config import Settings
from connection_service.errors import Unauthorized
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

SECRET = "unit-test-secret-0123456789abcdef0123"


def verifier(**overrides: object) -> TokenVerifier:
    return TokenVerifier(Settings(jwt_secret=SECRET, internal_service_key="k", **overrides))  # type: ignore[arg-type]


def claims(**extra: object) -> dict[str, object]:
    return {"sub": "user-1", "tenant_id": "tenant-a", "exp": int(time.time()) + 60, **extra}


def test_a_valid_hs256_token_gives_the_identity() -> None:
    token = issue_token(SECRET, "tenant-a", "user-1", 60, time.time())

    assert verifier().verify(token) == Identity("tenant-a", "user-1")


@pytest.mark.parametrize(
    "token",
    [
        None,
        "",
        "a.b.c",
        jwt.encode(claims(exp=int(time.time()) - 1), SECRET),
        jwt.encode(claims(nbf=int(time.time()) + 600), SECRET),
        jwt.encode({"sub": "u", "tenant_id": "t"}, SECRET),
        jwt.encode(claims(), "another-secret-0123456789abcdef0123"),
        jwt.encode(claims(), None, algorithm="none"),
        jwt.encode(claims(), SECRET, algorithm="HS512"),
        jwt.encode(claims(tenant_id="{t:other}"), SECRET),
        jwt.encode(claims(tenant_id=5), SECRET),
    ],
    ids=[
        "none",
        "empty",
        "garbage",
        "expired",
        "not-yet",
        "no-exp",
        "wrong-secret",
        "alg-none",
        "alg-not-allowed",
        "hash-tag-injection",
        "tenant-not-string",
    ],
)
def test_bad_tokens_are_unauthorized(token: str | None) -> None:
    with pytest.raises(Unauthorized):
        verifier().verify(token)


def test_audience_and_issuer_are_enforced_when_configured() -> None:
    strict = verifier(jwt_audience="dashboards", jwt_issuer="ts-auth-service")

    assert strict.verify(jwt.encode(claims(aud="dashboards", iss="ts-auth-service"), SECRET)).tenant_id == "tenant-a"
    with pytest.raises(Unauthorized):
        strict.verify(jwt.encode(claims(aud="others", iss="ts-auth-service"), SECRET))
    with pytest.raises(Unauthorized):
        strict.verify(jwt.encode(claims(aud="dashboards", iss="someone-else"), SECRET))


def test_the_tenant_claim_is_configurable() -> None:
    token = jwt.encode({"sub": "u", "org": "acme", "exp": int(time.time()) + 60}, SECRET)

    assert verifier(jwt_tenant_claim="org").verify(token).tenant_id == "acme"


@pytest.mark.parametrize(
    ("algorithm", "private_key"),
    [
        ("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        ("ES256", ec.generate_private_key(ec.SECP256R1())),
    ],
)
def test_asymmetric_tokens_verify_with_the_public_key(algorithm: str, private_key: object) -> None:
    public_pem = (
        private_key.public_key()
        .public_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    v = verifier(jwt_algorithms=[algorithm], jwt_public_key=public_pem)

    assert v.verify(jwt.encode(claims(), private_key, algorithm=algorithm)).user_id == "user-1"  # type: ignore[arg-type]
    with pytest.raises(Unauthorized):
        v.verify(jwt.encode(claims(), SECRET, algorithm="HS256"))


def test_algorithm_confusion_with_the_public_key_as_hmac_secret_is_refused() -> None:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = base64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = base64url(json.dumps(claims()).encode())
    signature = base64url(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    v = verifier(jwt_algorithms=["RS256", "HS256"], jwt_public_key=public_pem.decode())

    with pytest.raises(Unauthorized):
        v.verify(f"{header}.{payload}.{signature}")


def base64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_the_none_algorithm_cannot_be_configured() -> None:
    with pytest.raises(ValueError, match="none"):
        Settings(jwt_algorithms=["none"])  # type: ignore[arg-type]
