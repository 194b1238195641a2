"""Secrets from Secrets Manager, against moto's server over HTTP: fetched at a function's init, cached for a TTL,
re-read on rotation (after the TTL, or once when a check fails with the cached value), and a missing one fails the
init naming it. The clock is injected: no test sleeps."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from moto.server import ThreadedMotoServer

from connection_service import settings as settings_module
from connection_service import wiring
from connection_service.api import create_app
from connection_service.call_service_client import ActingUser, CallService
from connection_service.errors import Unauthorized
from connection_service.secret_cache import Secret, SecretsManagerReader, SecretUnavailable
from connection_service.settings import DEVELOPMENT_JWT_SECRET, ConfigurationError, Settings
from connection_service.tokens import TokenVerifier, issue_token
from tests.support.call_service import CallServiceStub

REGION = "us-east-1"
FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Dummy credentials and a region, as Lambda's environment has them; no .env; a fresh settings object."""
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_SAM_LOCAL", "AWS_PROFILE", "AWS_SESSION_TOKEN", "JWT_SECRET", "INTERNAL_SERVICE_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings_module.get_settings.cache_clear()
    wiring.current.cache_clear()
    yield
    settings_module.get_settings.cache_clear()
    wiring.current.cache_clear()


def secrets_manager(moto_url: str) -> Any:
    import boto3

    return boto3.session.Session().client("secretsmanager", endpoint_url=moto_url, region_name=REGION)


def create_secret(moto_url: str, name: str, value: str) -> str:
    arn: str = secrets_manager(moto_url).create_secret(Name=name, SecretString=value)["ARN"]
    return arn


def rotate(moto_url: str, arn: str, value: str) -> None:
    secrets_manager(moto_url).put_secret_value(SecretId=arn, SecretString=value)


def token(secret: str) -> str:
    return issue_token(secret, "tenant-a", "user-1", 300, time.time())


# --- fetched at init ------------------------------------------------------------------------------------------


def test_a_function_s_init_fetches_the_secrets_it_names(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    jwt_arn = create_secret(moto_url, "init/jwt", "jwt-from-secrets-manager-0123456789")
    monkeypatch.setenv("JWT_SECRET_ARN", jwt_arn)
    monkeypatch.setenv("INTERNAL_SERVICE_KEY_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:absent")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)

    runtime = wiring.start("jwt_secret")  # the connect function's init: the internal key is not its to read

    assert runtime.jwt_secret.fetched
    identity = runtime.verifier.verify(token("jwt-from-secrets-manager-0123456789"))
    assert identity.tenant_id == "tenant-a"
    assert "jwt-from-secrets-manager" not in repr(runtime.settings) + repr(runtime.jwt_secret)


def test_a_missing_secret_fails_the_init_naming_the_setting_and_the_secret(
    moto_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = "arn:aws:secretsmanager:us-east-1:123456789012:secret:never-created-AbCdEf"
    monkeypatch.setenv("INTERNAL_SERVICE_KEY_ARN", absent)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)

    with pytest.raises(SecretUnavailable) as raised:
        wiring.start("internal_service_key")

    assert isinstance(raised.value, ConfigurationError)
    assert str(raised.value) == f"INTERNAL_SERVICE_KEY: cannot read secret {absent}: ResourceNotFoundException"


def test_an_unreachable_secrets_manager_fails_the_init_naming_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the discard port: nothing listens

    with pytest.raises(SecretUnavailable, match=r"^JWT_SECRET: cannot read secret .*jwt-AbCdEf: EndpointConnection"):
        wiring.start("jwt_secret")


def test_without_a_value_or_an_arn_the_init_names_the_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JWT_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf")

    with pytest.raises(ConfigurationError, match=r"^missing required settings: INTERNAL_SERVICE_KEY \(or INTERN"):
        wiring.start("internal_service_key")


def test_a_plain_value_wins_over_an_arn_and_is_not_fetched() -> None:
    chosen = Settings(jwt_secret="plain-value", jwt_secret_arn="arn:aws:secretsmanager:x:1:secret:y")

    assert chosen.secret_arn("jwt_secret") == ""
    assert not wiring.Runtime(chosen).jwt_secret.fetched


def test_the_local_gateway_uses_plain_values_unless_told_to_fetch_the_arns() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:jwt-AbCdEf"

    local = Settings(local=True, jwt_secret_arn=arn)
    fetching = Settings(local=True, local_secret_arns=True, jwt_secret_arn=arn)

    assert local.secret_arn("jwt_secret") == "" and local.jwt_secret.get_secret_value() == DEVELOPMENT_JWT_SECRET
    assert fetching.secret_arn("jwt_secret") == arn and fetching.jwt_secret.get_secret_value() == ""


# --- the TTL cache and rotation ---------------------------------------------------------------------------------


def test_a_fetched_secret_is_cached_for_its_ttl_then_read_again(moto_url: str) -> None:
    arn = create_secret(moto_url, "ttl/key", "first")
    clock = Clock()
    secret = SecretsManagerReader(moto_url).secret("KEY", arn, ttl_s=300, refetch_interval_s=30, clock=clock)
    assert secret.value() == "first"

    rotate(moto_url, arn, "second")
    clock.now += 299
    assert secret.value() == "first"  # cached
    clock.now += 1
    assert secret.value() == "second"  # the TTL has passed: read again


def test_a_failed_refresh_keeps_the_cached_value(moto_url: str) -> None:
    arn = create_secret(moto_url, "ttl/deleted", "kept")
    clock = Clock()
    secret = SecretsManagerReader(moto_url).secret("KEY", arn, ttl_s=300, refetch_interval_s=30, clock=clock)
    assert secret.value() == "kept"

    secrets_manager(moto_url).delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    clock.now += 300

    assert secret.value() == "kept"


def test_a_token_signed_with_a_rotated_secret_is_accepted_at_once(moto_url: str) -> None:
    arn = create_secret(moto_url, "rotation/jwt", "jwt-before-rotation-0123456789abcdef")
    clock = Clock()
    secret = SecretsManagerReader(moto_url).secret("JWT_SECRET", arn, ttl_s=300, refetch_interval_s=30, clock=clock)
    verifier = TokenVerifier(Settings(jwt_secret_arn=arn), secret)
    assert verifier.verify(token("jwt-before-rotation-0123456789abcdef")).user_id == "user-1"

    rotate(moto_url, arn, "jwt-after-rotation-0123456789abcdefgh")

    # Well within the TTL: the failed check re-reads the secret once, and the new value verifies.
    assert verifier.verify(token("jwt-after-rotation-0123456789abcdefgh")).user_id == "user-1"
    with pytest.raises(Unauthorized):
        verifier.verify(token("jwt-before-rotation-0123456789abcdef"))  # the old one is gone


def test_failed_checks_re_read_a_secret_at_most_once_per_interval(moto_url: str) -> None:
    arn = create_secret(moto_url, "rotation/limited", "jwt-one-0123456789abcdef0123456789")
    clock = Clock()
    secret = SecretsManagerReader(moto_url).secret("JWT_SECRET", arn, ttl_s=300, refetch_interval_s=30, clock=clock)
    verifier = TokenVerifier(Settings(jwt_secret_arn=arn), secret)
    with pytest.raises(Unauthorized):
        verifier.verify(token("a-forged-secret-0123456789abcdef01234"))  # a refetch: the value is unchanged

    rotate(moto_url, arn, "jwt-two-0123456789abcdef0123456789")
    clock.now += 29
    with pytest.raises(Unauthorized):
        verifier.verify(token("jwt-two-0123456789abcdef0123456789"))  # too soon after the last refetch
    clock.now += 1
    assert verifier.verify(token("jwt-two-0123456789abcdef0123456789")).tenant_id == "tenant-a"


def test_the_internal_api_accepts_a_rotated_key_at_once(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = create_secret(moto_url, "rotation/internal-key", "key-before")
    monkeypatch.setenv("INTERNAL_SERVICE_KEY_ARN", arn)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    runtime = wiring.start("internal_service_key")
    app = create_app(lambda: runtime)

    async def post(key: str) -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal") as client:
            answer = await client.post("/broadcast/", headers={"X-Internal-Service-Key": key}, content=b"{}")
            return answer.status_code

    def status(key: str) -> int:
        # An empty body: refused as invalid (422) once the key is accepted, 401 before that; Redis is not reached.
        return asyncio.run(post(key))

    assert status("key-before") == 422
    rotate(moto_url, arn, "key-after")
    assert status("key-after") == 422
    assert status("key-before") == 401
    assert status("") == 401


def test_the_outgoing_key_follows_the_rotation_after_the_ttl(moto_url: str) -> None:
    arn = create_secret(moto_url, "rotation/outgoing", "out-before")
    clock = Clock()
    secret = SecretsManagerReader(moto_url).secret("KEY", arn, ttl_s=60, refetch_interval_s=30, clock=clock)
    caller = ActingUser("tenant-a", "u1", "idem-1")
    with CallServiceStub() as upstream, httpx.Client(base_url=upstream.url) as client:
        service = CallService(client, secret)
        service.takeover_conversation(caller, "c1")
        rotate(moto_url, arn, "out-after")
        service.takeover_conversation(caller, "c1")  # within the TTL: the cached key
        clock.now += 60
        service.takeover_conversation(caller, "c1")
        sent = [request.headers["x-internal-service-key"] for request in upstream.recorded()]
    assert sent == ["out-before", "out-before", "out-after"]


def test_a_secret_without_text_is_refused_by_name(moto_url: str) -> None:
    arn: str = secrets_manager(moto_url).create_secret(Name="binary/one", SecretBinary=b"\x00\x01")["ARN"]

    with pytest.raises(SecretUnavailable, match=r"^KEY: secret .* holds no text"):
        SecretsManagerReader(moto_url).read("KEY", arn)


def test_a_plain_secret_never_refetches() -> None:
    plain = Secret("JWT_SECRET", value="v")
    assert plain.value() == "v" and not plain.refetch() and not plain.fetched


# --- cold start: boto3 only when an ARN is configured ------------------------------------------------------------


@pytest.mark.parametrize("module", ["connect", "message", "broadcast", "disconnect"])
def test_without_arns_a_function_s_init_does_not_import_boto3(module: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_ARN")}
    env.update({"AWS_SAM_LOCAL": "true", "PYTHONPATH": str(FUNCTIONS)})
    code = f"import sys, connection_service.{module}; print(sorted(m for m in sys.modules if m.startswith('boto')))"
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
