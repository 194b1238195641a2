"""AUTH_MODE=remote: a locally valid token is confirmed by ts-auth-service (a real HTTP stand-in) for revocation.

Contract: POST /auth/validate with ``Authorization: Bearer <token>`` → 200 {valid: true, user: {id, tenantId}}
or 401. Revoked → 401; ts-auth-service down, failing or hanging → 503; identity mismatch → 401. Answers are
cached per process for TS_AUTH_CACHE_TTL_S, keyed by the token's SHA-256; the token is stored nowhere.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import jwt
import pytest
import redis

from connection_service import connect
from connection_service.auth_service_client import RemoteValidator, token_digest
from connection_service.errors import AuthServiceUnavailable, Unauthorized
from connection_service.tokens import Identity
from tests.integration.test_connect_disconnect import connect_event
from tests.support.auth_service import AuthService, Received
from tests.support.lambda_env import LambdaContext, reset_cold_start

pytestmark = pytest.mark.usefixtures("lambda_env")


@pytest.fixture
def auth_service(monkeypatch: pytest.MonkeyPatch) -> Iterator[AuthService]:
    with AuthService() as service:
        monkeypatch.setenv("AUTH_MODE", "remote")
        monkeypatch.setenv("TS_AUTH_SERVICE_URL", service.url)
        monkeypatch.setenv("TS_AUTH_TIMEOUT_S", "0.3")
        reset_cold_start()
        yield service


def connect_with(token: str, connection_id: str = "L0SM9cOFvHcCIhw=") -> dict[str, object]:
    answer = connect.handler(connect_event(token, connection_id), LambdaContext())
    assert "Traceback" not in str(answer.get("body", ""))
    return answer


def test_a_valid_token_is_admitted_and_cached(
    auth_service: AuthService, store: redis.Redis, token: Callable[..., str]
) -> None:
    jwt_ = token("tenant-a", "user-1")
    auth_service.accept(jwt_, "user-1", "tenant-a")

    assert connect_with(jwt_, "conn1AAAAAAAAAA=")["statusCode"] == 200
    assert connect_with(jwt_, "conn2AAAAAAAAAA=")["statusCode"] == 200  # within the cache window

    assert auth_service.received == [Received("POST", "/auth/validate", f"Bearer {jwt_}")]
    assert store.zcard("{t:tenant-a}:conns") == 2


def test_each_token_is_checked_on_its_own(
    auth_service: AuthService, store: redis.Redis, token: Callable[..., str]
) -> None:
    first, second = token(user="user-1"), token(user="user-2")
    auth_service.accept(first, "user-1", "tenant-a")
    auth_service.accept(second, "user-2", "tenant-a")

    assert connect_with(first, "conn1AAAAAAAAAA=")["statusCode"] == 200
    assert connect_with(second, "conn2AAAAAAAAAA=")["statusCode"] == 200
    assert auth_service.calls == 2


def test_a_revoked_token_is_refused_with_401_and_the_refusal_cached(
    auth_service: AuthService, store: redis.Redis, token: Callable[..., str]
) -> None:
    revoked = token()  # locally valid, unknown to (revoked by) ts-auth-service

    assert connect_with(revoked)["statusCode"] == 401
    assert connect_with(revoked)["statusCode"] == 401
    assert auth_service.calls == 1
    assert store.keys("*") == []


def test_the_local_check_runs_first(auth_service: AuthService, store: redis.Redis) -> None:
    forged = jwt.encode({"sub": "user-1", "tenant_id": "tenant-a", "exp": time.time() + 60}, "x" * 40)
    auth_service.accept(forged, "user-1", "tenant-a")  # even if ts-auth-service would vouch for it

    assert connect_with(forged)["statusCode"] == 401
    assert auth_service.calls == 0
    assert store.keys("*") == []


@pytest.mark.parametrize(("user", "tenant"), [("user-1", "tenant-b"), ("user-2", "tenant-a")])
def test_an_identity_mismatch_between_token_and_auth_service_is_refused(
    auth_service: AuthService, store: redis.Redis, token: Callable[..., str], user: str, tenant: str
) -> None:
    jwt_ = token("tenant-a", "user-1")
    auth_service.accept(jwt_, user, tenant)

    assert connect_with(jwt_)["statusCode"] == 401
    assert store.keys("*") == []


def test_auth_service_down_refuses_the_connect_with_503(
    auth_service: AuthService, store: redis.Redis, token: Callable[..., str]
) -> None:
    jwt_ = token()
    auth_service.accept(jwt_, "user-1", "tenant-a")
    auth_service.stop()

    answer = connect_with(jwt_)

    assert answer["statusCode"] == 503
    assert answer["headers"]["Retry-After"] == "1"  # type: ignore[index]
    assert store.keys("*") == []


def test_a_failing_auth_service_is_a_503_and_is_not_cached(
    auth_service: AuthService, store: redis.Redis, token: Callable[..., str]
) -> None:
    jwt_ = token()
    auth_service.accept(jwt_, "user-1", "tenant-a")
    auth_service.mode = "failing"
    assert connect_with(jwt_)["statusCode"] == 503

    auth_service.mode = "ok"
    assert connect_with(jwt_)["statusCode"] == 200
    assert auth_service.calls == 2


def test_a_hanging_auth_service_is_given_up_on_after_the_short_timeout(
    auth_service: AuthService, store: redis.Redis, token: Callable[..., str]
) -> None:
    """The stand-in holds the call for 3 s, then vouches for the token: only the 0.3 s timeout makes this a
    503 (httpx's default timeout is 5 s)."""
    jwt_ = token()
    auth_service.accept(jwt_, "user-1", "tenant-a")
    auth_service.mode = "hanging"

    assert connect_with(jwt_)["statusCode"] == 503
    assert store.keys("*") == []


def test_the_validate_path_is_configurable(
    monkeypatch: pytest.MonkeyPatch, auth_service: AuthService, store: redis.Redis, token: Callable[..., str]
) -> None:
    monkeypatch.setenv("TS_AUTH_VALIDATE_PATH", "/v2/validate")
    reset_cold_start()
    jwt_ = token()
    auth_service.accept(jwt_, "user-1", "tenant-a")

    assert connect_with(jwt_)["statusCode"] == 503  # the stand-in answers 404 there: a misconfiguration, not a 401
    assert auth_service.received[0].path == "/v2/validate"


def test_the_token_is_stored_and_logged_nowhere(
    auth_service: AuthService,
    store: redis.Redis,
    event_store: redis.Redis,
    token: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    good, revoked = token(user="user-1"), token(user="user-2")
    auth_service.accept(good, "user-1", "tenant-a")
    with caplog.at_level(logging.DEBUG):
        assert connect_with(good)["statusCode"] == 200
        assert connect_with(revoked, "conn2AAAAAAAAAA=")["statusCode"] == 401
        auth_service.mode = "failing"
        assert connect_with(token(user="user-3"), "conn3AAAAAAAAAA=")["statusCode"] == 503

    dump = caplog.text
    for db in (store, event_store):
        for key in db.keys("*"):
            assert isinstance(key, str)  # the stores decode responses
            dump += key + repr(db.dump(key))
    for secret in (good, revoked):
        assert secret not in dump
        assert secret.split(".")[2] not in dump  # not even the signature
        assert token_digest(secret) not in dump  # the full digest is the cache key: in memory only
    assert "tenant-a" in dump  # the dump did see the registration


def test_the_cache_expires(auth_service: AuthService, token: Callable[..., str]) -> None:
    now = [1000.0]
    validator = RemoteValidator(
        f"{auth_service.url}/auth/validate", timeout_s=1.0, cache_ttl_s=30.0, clock=lambda: now[0]
    )
    jwt_ = token()
    auth_service.accept(jwt_, "user-1", "tenant-a")

    validator.confirm(jwt_, Identity("tenant-a", "user-1"))
    now[0] += 29.9
    validator.confirm(jwt_, Identity("tenant-a", "user-1"))
    assert auth_service.calls == 1

    auth_service.revoke(jwt_)
    now[0] += 0.2
    with pytest.raises(Unauthorized):
        validator.confirm(jwt_, Identity("tenant-a", "user-1"))
    assert auth_service.calls == 2
    validator.close()


def test_off_contract_answers_are_unavailability_not_acceptance(token: Callable[..., str]) -> None:
    from connection_service.auth_service_client import identity_from_answer

    assert identity_from_answer({"valid": True, "user": {"id": "u", "tenantId": "t"}}) == Identity("t", "u")
    assert identity_from_answer({"valid": False}) is None
    assert identity_from_answer({"valid": "yes", "user": {"id": "u", "tenantId": "t"}}) is None
    off_contract: list[object] = [
        [],
        "valid",
        {"valid": True},
        {"valid": True, "user": {"id": "u"}},
        {"valid": True, "user": []},
    ]
    for body in off_contract:
        with pytest.raises(ValueError):
            identity_from_answer(body)
    assert issubclass(AuthServiceUnavailable, Exception) and AuthServiceUnavailable.status == 503


def test_the_connect_function_imports_no_http_client_or_web_framework() -> None:
    """Cold import stays light: httpx is imported only in remote mode, FastAPI never."""
    probe = (
        "import sys, connection_service.connect as c, connection_service.admission;"
        "print(sorted(m for m in ('httpx', 'fastapi', 'boto3', 'connection_service.auth_service_client') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
        env={"PYTHONPATH": _path(), "AWS_SAM_LOCAL": "true"},
    )
    assert out.stdout.strip() == "[]"


def _path() -> str:
    import connection_service

    return str(__import__("pathlib").Path(connection_service.__file__).resolve().parent.parent)
