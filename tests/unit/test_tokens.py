from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from connection_service.errors import Unauthorized
from connection_service.settings import Settings
from connection_service.tokens import Identity, TokenVerifier, issue_token

SECRET = "unit-test-secret-0123456789abcdef0123456789abcdef0123456789abcdef"  # 64+ bytes: HS512 too


def verifier(**overrides: object) -> TokenVerifier:
    return TokenVerifier(Settings(jwt_secret=SECRET, internal_service_key="k", **overrides))


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
        jwt.encode(claims(), "", algorithm="none"),
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
def test_asymmetric_tokens_verify_with_the_public_key(
    algorithm: str, private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
) -> None:
    public_pem = (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    v = verifier(jwt_algorithms=[algorithm], jwt_public_key=public_pem)

    assert v.verify(jwt.encode(claims(), private_key, algorithm=algorithm)).user_id == "user-1"
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
        Settings(jwt_algorithms=["none"])


def test_a_token_over_the_length_cap_is_refused_before_parsing() -> None:
    from connection_service.tokens import MAX_TOKEN_LENGTH

    def padded_to(length: int) -> str:
        base = len(jwt.encode(claims(pad=""), SECRET))
        token = jwt.encode(claims(pad="x" * ((length - base) * 3 // 4)), SECRET)
        assert length - 4 <= len(token) <= length
        return token

    assert verifier().verify(padded_to(MAX_TOKEN_LENGTH)).user_id == "user-1"
    with pytest.raises(Unauthorized):
        verifier().verify(padded_to(MAX_TOKEN_LENGTH + 8))
    assert MAX_TOKEN_LENGTH < 100_000


def test_refusals_log_the_reason_never_the_token_and_tell_the_client_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = jwt.encode(claims(), SECRET, algorithm="HS512")
    with caplog.at_level("DEBUG"), pytest.raises(Unauthorized) as refused:
        verifier().verify(token)

    assert "'HS512' is not allowed" in caplog.text
    assert token not in caplog.text
    assert token.split(".")[2] not in caplog.text
    assert refused.value.message == "invalid or missing token"


def test_attacker_controlled_header_values_are_logged_bounded() -> None:
    import logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logging.getLogger("connection_service.tokens").addHandler(handler)
    logging.getLogger("connection_service.tokens").setLevel(logging.INFO)
    try:
        header = base64url(json.dumps({"alg": "A" * 5000 + "\nforged log line"}).encode())
        with pytest.raises(Unauthorized):
            verifier().verify(f"{header}.{base64url(b'{}')}.sig")
    finally:
        logging.getLogger("connection_service.tokens").removeHandler(handler)

    message = records[-1].getMessage()
    assert len(message) < 200
    assert "\n" not in message


@pytest.mark.parametrize(
    ("origin", "normalized"),
    [
        ("http://localhost:3000", "http://localhost:3000"),
        ("HTTP://LocalHost:3000/", "http://localhost:3000"),
        ("https://app.example.com:443", "https://app.example.com"),
        ("http://app.example.com:80/", "http://app.example.com"),
        ("https://app.example.com:8443", "https://app.example.com:8443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        (" null ", "null"),
        ("http://a@b.example", "http://a@b.example"),
        ("http://b.example/path", "http://b.example/path"),
        ("http://b.example:99999", "http://b.example:99999"),
    ],
)
def test_origins_are_normalized(origin: str, normalized: str) -> None:
    from connection_service.admission import normalize_origin

    assert normalize_origin(origin) == normalized


def test_the_origin_policy() -> None:
    from connection_service.admission import OriginPolicy
    from connection_service.errors import Forbidden

    policy = OriginPolicy.of(["http://localhost:3000/", " https://App.Example.com ", ""], allow_missing=False)
    for allowed in ("http://localhost:3000", "https://app.example.com", "HTTPS://APP.EXAMPLE.COM:443"):
        policy.check(allowed)
    for refused in (None, "", "null", "http://localhost:3001", "https://app.example.com.evil", "*"):
        with pytest.raises(Forbidden):
            policy.check(refused)

    OriginPolicy.of([], allow_missing=True).check(None)
    wildcard = OriginPolicy.of(["*"], allow_missing=False)
    wildcard.check("https://anything.example")
    with pytest.raises(Forbidden):
        wildcard.check("null")
    OriginPolicy.of(["null"], allow_missing=False).check("null")
