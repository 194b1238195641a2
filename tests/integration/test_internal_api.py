"""The internal HTTP API beyond broadcasting: connection status, tenant listing, detailed health, OpenAPI, errors.

Every request goes through the real broadcast handler with an HTTP API v2 event, against a real Redis.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
import redis

from tests.integration.test_broadcast import CALL, close_connection, http, open_connection, send_action
from tests.support.auth_service import AuthService
from tests.support.lambda_env import reset_cold_start
from tests.support.redis_backends import ClusterView, RedisBackend
from tests.support.round_trips import RoundTrips

pytestmark = pytest.mark.usefixtures("lambda_env")

A1, A2, A3, B1 = "AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "DDDDDDDDDDDDDDD=", "CCCCCCCCCCCCCCC="


def redis_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    reset_cold_start()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def auth_service() -> Iterator[str]:
    """ts-auth-service's stand-in: its origin answers a GET with 404."""
    with AuthService() as service:
        yield service.url


def expire(store: redis.Redis, tenant: str, connection_id: str) -> None:
    """Make a connection's registry entry expired (its score is its expiry time), as time passing would."""
    store.zadd("{t:" + tenant + "}:conns", {connection_id: time.time() - 1})


# --- GET /connections/status ----------------------------------------------------------------------------------


def test_status_counts_connections_tenants_and_event_log_per_tenant(token: Callable[..., str]) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    open_connection(token("tenant-b", "u3"), B1)
    for _ in range(2):
        assert http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})["statusCode"] == 202

    answer = http("GET", "/connections/status")

    assert answer["statusCode"] == 200
    body = answer["json"]
    assert body["connections"] == 3 and body["tenants"] == 2 and body["eventLogEntries"] == 2
    assert body["perTenant"] == [
        {"tenantId": "tenant-a", "connections": 2, "eventLogLength": 2},
        {"tenantId": "tenant-b", "connections": 1, "eventLogLength": 0},
    ]
    assert body["checkedAt"].endswith("Z")


def test_status_follows_disconnects_and_drops_tenants_left_without_connections(
    token: Callable[..., str], store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    open_connection(token("tenant-b", "u3"), B1)

    close_connection(A2)
    close_connection(B1)
    body = http("GET", "/connections/status")["json"]

    assert body["connections"] == 1 and body["tenants"] == 1
    assert body["perTenant"] == [{"tenantId": "tenant-a", "connections": 1, "eventLogLength": 0}]
    assert store.smembers("tenants") == {"tenant-a"}


def test_status_prunes_expired_connections_on_read(token: Callable[..., str], store: redis.Redis) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    open_connection(token("tenant-b", "u3"), B1)
    expire(store, "tenant-a", A2)
    expire(store, "tenant-b", B1)

    body = http("GET", "/connections/status")["json"]

    assert body["connections"] == 1
    assert [t["tenantId"] for t in body["perTenant"]] == ["tenant-a"]
    assert store.zrange("{t:tenant-a}:conns", 0, -1) == [A1]
    assert store.smembers("tenants") == {"tenant-a"}


def test_a_tenant_that_reconnects_is_counted_again(token: Callable[..., str], store: redis.Redis) -> None:
    open_connection(token("tenant-b", "u3"), B1)
    close_connection(B1)
    assert http("GET", "/connections/status")["json"]["tenants"] == 0

    open_connection(token("tenant-b", "u3"), A3)

    assert http("GET", "/connections/status")["json"]["perTenant"] == [
        {"tenantId": "tenant-b", "connections": 1, "eventLogLength": 0}
    ]


# --- GET /connections/tenant/{tenant_id} ------------------------------------------------------------------------


def test_tenant_listing_shows_each_connection_with_iso_timestamps_and_subscriptions(
    token: Callable[..., str],
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    open_connection(token("tenant-b", "u3"), B1)
    send_action(A1, "subscribe_conversation", {"conversationId": "conv-2"})
    send_action(A1, "subscribe_conversation", {"conversationId": "conv-1"})

    answer = http("GET", "/connections/tenant/tenant-a")

    assert answer["statusCode"] == 200
    body = answer["json"]
    assert body["tenantId"] == "tenant-a" and body["count"] == 2
    by_id = {c["id"]: c for c in body["connections"]}
    assert set(by_id) == {A1, A2}
    assert by_id[A1]["userId"] == "u1" and by_id[A2]["userId"] == "u2"
    assert by_id[A1]["subscriptions"] == ["conv-1", "conv-2"] and by_id[A2]["subscriptions"] == []
    for connection in body["connections"]:
        connected = datetime.fromisoformat(connection["connectedAt"].replace("Z", "+00:00"))
        last_seen = datetime.fromisoformat(connection["lastSeenAt"].replace("Z", "+00:00"))
        assert connection["connectedAt"].endswith("Z") and connection["lastSeenAt"].endswith("Z")
        assert last_seen >= connected


def test_tenant_listing_leaves_out_closed_and_expired_connections(
    token: Callable[..., str], store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    open_connection(token("tenant-a", "u3"), A3)

    close_connection(A2)
    expire(store, "tenant-a", A3)
    body = http("GET", "/connections/tenant/tenant-a")["json"]

    assert [c["id"] for c in body["connections"]] == [A1] and body["count"] == 1


def test_an_unknown_tenant_has_no_connections() -> None:
    answer = http("GET", "/connections/tenant/nobody")

    assert answer["statusCode"] == 200 and answer["json"]["connections"] == [] and answer["json"]["count"] == 0


# --- keys, errors, Redis down ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/connections/status", "/connections/tenant/tenant-a", "/health/detailed"])
@pytest.mark.parametrize("key", [None, "wrong-key"])
def test_inspection_routes_require_the_service_key(path: str, key: str | None) -> None:
    answer = http("GET", path, key=key)

    assert answer["statusCode"] == 401
    assert answer["json"] == {"error": {"code": "unauthorized", "message": "missing or invalid X-Internal-Service-Key"}}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/connections/status", None),
        ("GET", "/connections/tenant/tenant-a", None),
        ("POST", "/broadcast/", {"event": "call_incoming", "tenantId": "tenant-a", "data": CALL}),
        ("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL}),
        (
            "POST",
            "/broadcast/conversation/c1",
            {"event": "ai_activated", "tenantId": "t", "data": {"conversationId": "c1"}},
        ),
    ],
)
def test_routes_that_need_redis_answer_503_with_retry_after_when_it_is_down(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str, body: dict[str, object] | None
) -> None:
    redis_down(monkeypatch)

    answer = http(method, path, body)

    assert answer["statusCode"] == 503
    assert {k.lower(): v for k, v in answer["headers"].items()}["retry-after"] == "1"
    assert answer["json"]["error"]["code"] == "unavailable"


def test_an_invalid_body_is_422_in_the_service_error_shape() -> None:
    answer = http("POST", "/broadcast/", {"event": "call_incoming", "data": CALL})

    assert answer["statusCode"] == 422
    assert answer["json"]["error"]["code"] == "invalid_event"
    assert "tenantId" in answer["json"]["error"]["message"]
    assert "detail" not in answer["json"]


def test_malformed_json_is_422_without_echoing_internals() -> None:
    from connection_service import broadcast
    from tests.support.lambda_env import LambdaContext, load_event

    event = load_event("http_api_v2_post")
    event.update(rawPath="/broadcast/", routeKey="$default", body="{not json", isBase64Encoded=False)
    event["requestContext"]["http"].update(method="POST", path="/broadcast/")
    event["headers"] = {"content-type": "application/json", "x-internal-service-key": "integration-test-service-key"}

    answer = broadcast.handler(event, LambdaContext())

    assert answer["statusCode"] == 422
    assert '"code":"invalid_event"' in answer["body"].replace(" ", "")


def test_unknown_routes_and_methods_answer_in_the_service_error_shape() -> None:
    missing = http("GET", "/no/such/route")
    wrong_method = http("DELETE", "/connections/status")

    assert missing["statusCode"] == 404 and missing["json"]["error"]["code"] == "not_found"
    assert wrong_method["statusCode"] == 405 and wrong_method["json"]["error"]["code"] == "method_not_allowed"


def test_an_unexpected_failure_is_a_500_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INTERNAL_SERVICE_KEY")  # settings refuse to load outside local mode
    monkeypatch.delenv("JWT_SECRET")
    reset_cold_start()

    answer = http("GET", "/connections/status")

    assert answer["statusCode"] == 500
    assert answer["json"] == {"error": {"code": "internal", "message": "internal error"}}
    assert "Traceback" not in answer["body"] and "INTERNAL_SERVICE_KEY" not in answer["body"]


# --- GET /health/detailed --------------------------------------------------------------------------------------


def test_detailed_health_is_ok_with_figures_for_every_dependency(
    token: Callable[..., str], connections_api: object, redis_backend: RedisBackend
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-b", "u2"), B1)
    http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})

    answer = http("GET", "/health/detailed")

    assert answer["statusCode"] == 200
    body = answer["json"]
    assert body["status"] == "ok" and body["problems"] == []
    checks = body["checks"]
    for store in ("connections", "events"):
        assert checks["redis"][store]["ok"] is True
        assert isinstance(checks["redis"][store]["latencyMs"], float)
        pool = checks["redis"][store]["pool"]
        assert (
            pool["maxConnections"] >= 16
            and pool["created"] >= 1
            and pool["created"] == pool["available"] + pool["inUse"]
        )
    assert checks["redis"]["mode"] == redis_backend.mode
    nodes = checks["redis"]["nodes"]
    assert nodes and all(node["ok"] is True and isinstance(node["latencyMs"], float) for node in nodes)
    if redis_backend.cluster:  # database 0 for both; every primary and replica listed and reachable
        assert checks["redis"]["connections"]["db"] == 0 and checks["redis"]["events"]["db"] == 0
        assert sorted(node["role"] for node in nodes) == ["primary"] * 3 + ["replica"] * 3
    else:
        assert checks["redis"]["connections"]["db"] == 1 and checks["redis"]["events"]["db"] == 2
        assert nodes == [{"address": redis_backend.url.split("://")[1], "role": "primary", **nodes[0]}]
    assert checks["connections"] == {"ok": True, "total": 2, "tenants": 2}
    assert checks["eventLog"]["ok"] is True and checks["eventLog"]["entries"] == 1
    assert checks["eventLog"]["maxLen"] > 0 and checks["eventLog"]["retentionS"] > 0
    assert checks["managementApi"]["ok"] is True and isinstance(checks["managementApi"]["httpStatus"], int)
    assert checks["authService"] == {"ok": True, "mode": "local", "checked": False}


def test_detailed_health_is_degraded_503_with_the_reason_when_redis_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    redis_down(monkeypatch)

    answer = http("GET", "/health/detailed")

    assert answer["statusCode"] == 503
    body = answer["json"]
    assert body["status"] == "degraded"
    assert {"redis", "connections", "eventLog"} <= set(body["problems"])
    assert "managementApi" not in body["problems"]
    assert body["checks"]["redis"]["connections"]["ok"] is False
    assert "Connection refused" in body["checks"]["redis"]["connections"]["error"]
    assert "retry-after" in {k.lower() for k in answer["headers"]}


def test_detailed_health_is_degraded_when_the_management_endpoint_is_unreachable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WEBSOCKET_API_ENDPOINT", f"http://127.0.0.1:{closed_port()}/dev")
    reset_cold_start()

    answer = http("GET", "/health/detailed")

    assert answer["statusCode"] == 503
    assert answer["json"]["problems"] == ["managementApi"]
    assert answer["json"]["checks"]["managementApi"]["ok"] is False
    assert answer["json"]["checks"]["redis"]["ok"] is True


def test_detailed_health_checks_the_auth_service_in_remote_mode(
    monkeypatch: pytest.MonkeyPatch, auth_service: str
) -> None:
    monkeypatch.setenv("AUTH_MODE", "remote")
    monkeypatch.setenv("TS_AUTH_SERVICE_URL", auth_service)
    reset_cold_start()

    answer = http("GET", "/health/detailed")

    assert answer["statusCode"] == 200
    auth = answer["json"]["checks"]["authService"]
    assert auth["ok"] is True and auth["checked"] is True and auth["httpStatus"] == 404


def test_detailed_health_is_degraded_when_the_auth_service_is_unreachable_in_remote_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTH_MODE", "remote")
    monkeypatch.setenv("TS_AUTH_SERVICE_URL", f"http://127.0.0.1:{closed_port()}")
    reset_cold_start()

    answer = http("GET", "/health/detailed")

    assert answer["statusCode"] == 503
    assert answer["json"]["problems"] == ["authService"]


# --- OpenAPI ---------------------------------------------------------------------------------------------------


def test_openapi_document_lists_the_routes_without_a_key() -> None:
    answer = http("GET", "/openapi.json", key=None)

    assert answer["statusCode"] == 200
    paths = answer["json"]["paths"]
    assert {
        "/broadcast/",
        "/broadcast/tenant/{tenant_id}",
        "/broadcast/conversation/{conversation_id}",
        "/connections/status",
        "/connections/tenant/{tenant_id}",
        "/health/",
        "/health/detailed",
    } <= set(paths)
    assert "get" in paths["/connections/status"] and "post" in paths["/broadcast/"]


def test_docs_page_is_served_without_a_key_and_points_at_the_document() -> None:
    answer = http("GET", "/docs", key=None)

    assert answer["statusCode"] == 200
    assert answer["headers"]["content-type"].startswith("text/html")
    assert "swagger-ui" in answer["body"].lower() and "/openapi.json" in answer["body"]


def test_a_tenant_connecting_while_the_census_drops_it_stays_listed(
    token: Callable[..., str], redis_backend: RedisBackend, store: redis.Redis
) -> None:
    """The race census/connect: the tenant looked empty, then connected before it was removed from ``tenants``."""
    from connection_service.registry import ConnectionLimits, Registry

    open_connection(token("tenant-b", "u3"), B1)
    close_connection(B1)  # tenant-b is in ``tenants`` with no connection left

    class ConnectsDuringTheCensus(ClusterView if redis_backend.cluster else redis.Redis):  # type: ignore[misc]
        """A real client that lets a connect land right after the census's first pipeline."""

        hook: Callable[[], None] | None = None

        def pipeline(self, transaction: bool = True, shard_hint: str | None = None) -> Any:
            pipe = super().pipeline(transaction, shard_hint)
            execute = pipe.execute

            def execute_then_connect(raise_on_error: bool = True) -> Any:
                result = execute(raise_on_error)
                hook, type(self).hook = type(self).hook, None
                if hook is not None:
                    hook()
                return result

            pipe.execute = execute_then_connect
            return pipe

    ConnectsDuringTheCensus.hook = lambda: open_connection(token("tenant-b", "u3"), A3)
    client = ConnectsDuringTheCensus.from_url(
        redis_backend.url, decode_responses=True, **({} if redis_backend.cluster else {"db": 1})
    )
    registry = Registry(client, connection_ttl_s=600, limits=ConnectionLimits(0, 0, 0))

    seen = registry.census(time.time())

    assert "tenant-b" not in seen  # it was empty when looked at
    assert store.smembers("tenants") == {"tenant-b"}  # but it is not forgotten
    assert registry.census(time.time()) == {"tenant-b": [A3]}


@pytest.mark.parametrize("tenants", [1, 25])
def test_status_and_dashboard_status_round_trips_do_not_grow_with_tenants(
    round_trips: RoundTrips, redis_backend: RedisBackend, token: Callable[..., str], tenants: int
) -> None:
    """Counted as socket writes of the real redis client: one per command or pipeline, per node."""
    from connection_service import broadcast
    from tests.support.lambda_env import LambdaContext, load_event

    for index in range(tenants):
        open_connection(token(f"tenant-{index}", "u1"), f"{index:015d}=")
    http("GET", "/connections/status")  # warm-up: connections made, scripts loaded
    broadcast.handler(load_event("scheduled_event"), LambdaContext())

    scheduled: dict[str, Any] = {}
    status: dict[str, Any] = {}
    status_writes = round_trips.per_node(lambda: status.update(http("GET", "/connections/status")))
    writes = round_trips.per_node(
        lambda: scheduled.update(broadcast.handler(load_event("scheduled_event"), LambdaContext()))
    )

    assert status["json"]["tenants"] == tenants and scheduled["delivered"] == tenants
    assert status_writes <= 3  # tenants set; one pipeline over all tenants; one pipeline of log lengths
    assert writes <= 3  # tenants set; one pipeline over all tenants; one pipeline of users
    if not redis_backend.cluster:  # one node: all of them on it
        assert status_writes == writes == 3


@pytest.mark.parametrize("path", ["/health/", "/connections/status", "/connections/tenant/t1"])
def test_read_routes_are_served_without_starting_a_thread(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An execution environment serves one invocation at a time: a worker thread per request is pure cost."""
    http("GET", path, None)  # cold start (the runtime's own clients) done
    invoking = threading.current_thread()
    started: list[str] = []
    start = threading.Thread.start

    def recording(thread: threading.Thread) -> None:
        if threading.current_thread() is invoking:
            started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", recording)
    answer = http("GET", path, None)
    assert answer["statusCode"] in (200, 503)
    assert started == []
