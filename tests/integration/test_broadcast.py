from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from connection_service import broadcast, connect, disconnect, message
from tests.integration.conftest import SERVICE_KEY
from tests.integration.scripted_server import ScriptedServer
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event, reset_cold_start

pytestmark = pytest.mark.usefixtures("lambda_env")

CALL = {"callId": "call-1", "from": "+15550001111", "to": "+15550002222"}


def open_connection(token: str, connection_id: str) -> None:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token)
    event["requestContext"]["connectionId"] = connection_id
    assert connect.handler(event, LambdaContext())["statusCode"] == 200


def close_connection(connection_id: str) -> None:
    event = load_event("websocket_disconnect")
    event["requestContext"]["connectionId"] = connection_id
    assert disconnect.handler(event, LambdaContext())["statusCode"] == 200


def send_action(connection_id: str, action: str, data: dict[str, Any]) -> dict[str, Any]:
    event = load_event("websocket_message")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = json.dumps({"action": action, "data": data})
    return dict(message.handler(event, LambdaContext()))


# The template's parametrised routes: API Gateway names the route and its path parameter in each event.
ROUTES = [
    (re.compile(r"POST /broadcast/(tenant|conversation)/([^/]+)"), "POST /broadcast/{0}/{{{0}_id}}"),
    (re.compile(r"GET /connections/(tenant)/([^/]+)"), "GET /connections/{0}/{{{0}_id}}"),
]
PLAIN_ROUTES = {"POST /broadcast/", "GET /connections/status", "GET /health/", "GET /health/detailed"}


def http_event(
    method: str, path: str, body: dict[str, Any] | None = None, key: str | None = SERVICE_KEY
) -> dict[str, Any]:
    """The HTTP API (payload 2.0) event of a request, as API Gateway sends it for the template's routes (an
    unknown one as the ``$default`` route's)."""
    event = load_event("http_api_v2_post" if method == "POST" else "http_api_v2_get")
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["headers"] = {"content-type": "application/json", "host": "localhost"}
    if key is not None:
        event["headers"]["x-internal-service-key"] = key
    event["body"] = json.dumps(body) if body is not None else None
    event.pop("pathParameters", None)
    event["routeKey"] = f"{method} {path}" if f"{method} {path}" in PLAIN_ROUTES else "$default"
    for pattern, route in ROUTES:
        if match := pattern.fullmatch(f"{method} {path}"):
            event["routeKey"] = route.format(match[1])
            event["pathParameters"] = {f"{match[1]}_id": urllib.parse.unquote(match[2])}
    event["requestContext"]["routeKey"] = event["routeKey"]
    return event


def http(method: str, path: str, body: dict[str, Any] | None = None, key: str | None = SERVICE_KEY) -> dict[str, Any]:
    answer = broadcast.handler(http_event(method, path, body, key), LambdaContext())
    is_json = "json" in {k.lower(): v for k, v in answer.get("headers", {}).items()}.get("content-type", "")
    answer["json"] = json.loads(answer["body"]) if answer.get("body") and is_json else None
    return answer


def test_tenant_broadcast_reaches_only_that_tenants_connections(
    token: Callable[..., str], connections_api: ConnectionsApi
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    open_connection(token("tenant-a", "u2"), "BBBBBBBBBBBBBBB=")
    open_connection(token("tenant-b", "u3"), "CCCCCCCCCCCCCCC=")

    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})

    assert answer["statusCode"] == 202
    assert answer["json"]["delivered"] == 2 and answer["json"]["failed"] == 0
    for cid in ("AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="):
        [frame] = connections_api.frames(cid)
        assert frame["event"] == "call_incoming"
        assert frame["tenantId"] == "tenant-a"
        assert frame["id"] == answer["json"]["id"]
        assert frame["data"] == CALL
        assert str(frame["occurredAt"]).endswith("Z")
    assert connections_api.frames("CCCCCCCCCCCCCCC=") == []


def test_conversation_broadcast_reaches_only_subscribers_of_that_tenant(
    token: Callable[..., str], connections_api: ConnectionsApi
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    open_connection(token("tenant-a", "u2"), "BBBBBBBBBBBBBBB=")
    open_connection(token("tenant-b", "u3"), "CCCCCCCCCCCCCCC=")
    for cid in ("AAAAAAAAAAAAAAA=", "CCCCCCCCCCCCCCC="):
        event = load_event("websocket_message")
        event["requestContext"]["connectionId"] = cid
        event["body"] = '{"action":"subscribe_conversation","data":{"conversationId":"conv-1"}}'
        connections_api.route_response(cid, message.handler(event, LambdaContext()))
    body = {"event": "ai_activated", "tenantId": "tenant-a", "data": {"conversationId": "conv-1"}}

    answer = http("POST", "/broadcast/conversation/conv-1", body)

    assert answer["statusCode"] == 202 and answer["json"]["delivered"] == 1
    assert connections_api.frames("AAAAAAAAAAAAAAA=")[-1]["conversationId"] == "conv-1"
    assert connections_api.frames("BBBBBBBBBBBBBBB=") == []
    assert [f["event"] for f in connections_api.frames("CCCCCCCCCCCCCCC=")] == ["ack"]


def test_gone_connections_are_pruned(
    token: Callable[..., str], connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    open_connection(token("tenant-a", "u2"), "BBBBBBBBBBBBBBB=")
    connections_api.gone.add("BBBBBBBBBBBBBBB=")

    answer = http("POST", "/broadcast/", {"event": "call_missed", "tenantId": "tenant-a", "data": CALL})

    assert answer["json"]["delivered"] == 1 and answer["json"]["pruned"] == 1
    assert store.zrange("{t:tenant-a}:conns", 0, -1) == ["AAAAAAAAAAAAAAA="]
    assert not store.exists("conn:BBBBBBBBBBBBBBB=")


def test_the_event_is_in_the_log_and_a_repeated_event_id_is_not_delivered_twice(
    token: Callable[..., str], connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    body = {"event": "call_missed", "tenantId": "tenant-a", "data": CALL, "eventId": "evt-1"}

    first = http("POST", "/broadcast/", body)
    second = http("POST", "/broadcast/", body)

    assert first["json"]["id"] == second["json"]["id"]
    assert second["json"]["delivered"] == 0 and second["json"]["duplicate"] is True
    assert len(connections_api.frames("AAAAAAAAAAAAAAA=")) == 1
    assert event_store.xlen("log:{t:tenant-a}:events") == 1


@pytest.mark.parametrize("key", [None, "wrong-key", ""])
def test_routes_require_the_service_key(key: str | None) -> None:
    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL}, key=key)

    assert answer["statusCode"] == 401


def test_health_needs_no_key() -> None:
    answer = http("GET", "/health/", key=None)

    assert answer["statusCode"] == 200 and answer["json"]["status"] == "ok"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"event": "no_such_event", "data": {}}, 422),
        ({"event": "call_incoming", "data": {"callId": "c"}}, 422),
        (
            {
                "event": "message_received",
                "data": {"messageId": "m", "conversationId": "c", "from": "x", "body": "é" * 140_000},
            },
            413,
        ),
    ],
)
def test_invalid_or_oversize_events_are_refused(body: dict[str, Any], status: int, event_store: redis.Redis) -> None:
    answer = http("POST", "/broadcast/tenant/tenant-a", body)

    assert answer["statusCode"] == status
    assert event_store.xlen("log:{t:tenant-a}:events") == 0


def test_broadcast_answers_503_with_retry_after_when_redis_is_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    reset_cold_start()

    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})

    assert answer["statusCode"] == 503
    assert "retry-after" in {k.lower() for k in answer["headers"]}


@pytest.fixture
def keep_alive() -> Iterator[ScriptedServer]:
    """An @connections stand-in that keeps connections open between posts, as API Gateway does."""
    server = ScriptedServer()
    yield server
    server.close()


def test_a_broadcast_is_served_on_the_invoking_thread_without_starting_threads(
    token: Callable[..., str], keep_alive: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [f"{n}AAAAAAAAAAAAAA=" for n in range(3)]
    for n, connection_id in enumerate(ids):
        open_connection(token("tenant-a", f"u{n}"), connection_id)
    monkeypatch.setenv("WEBSOCKET_API_ENDPOINT", keep_alive.endpoint())
    reset_cold_start()
    http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})  # cold start done
    invoking = threading.current_thread()
    started: list[str] = []
    start = threading.Thread.start

    def recording(thread: threading.Thread) -> None:
        if threading.current_thread() is invoking:  # not the stand-in server's threads
            started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", recording)

    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_missed", "data": CALL})

    assert answer["json"]["delivered"] == 3 and started == []
    assert sorted(cid for cid, _ in keep_alive.posted) == sorted(ids * 2) and keep_alive.accepted == 3


def test_the_http_handler_works_on_a_thread_whose_event_loop_was_closed() -> None:
    import asyncio

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    loop.close()

    answer = http("GET", "/health/", key=None)

    assert answer["statusCode"] == 200


def test_a_transient_delivery_failure_is_retried_not_lost(
    token: Callable[..., str], connections_api: ConnectionsApi
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    connections_api.failures.append(503)

    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})

    assert answer["json"]["delivered"] == 1 and answer["json"]["failed"] == 0
    assert [f["event"] for f in connections_api.frames("AAAAAAAAAAAAAAA=")] == ["call_incoming"]


def test_a_delivery_that_keeps_failing_is_counted_as_failed_and_the_connection_kept(
    token: Callable[..., str], connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    connections_api.failures.append(403)

    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})

    assert answer["statusCode"] == 202
    assert answer["json"]["delivered"] == 0 and answer["json"]["failed"] == 1 and answer["json"]["pruned"] == 0
    assert store.zrange("{t:tenant-a}:conns", 0, -1) == ["AAAAAAAAAAAAAAA="]


def test_a_pruned_connection_no_longer_counts_against_its_users_limit(
    token: Callable[..., str], connections_api: ConnectionsApi, store: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_CONNECTIONS_PER_USER", "2")
    reset_cold_start()
    user = token("tenant-a", "u1")
    open_connection(user, "AAAAAAAAAAAAAAA=")
    open_connection(user, "BBBBBBBBBBBBBBB=")
    send_action("BBBBBBBBBBBBBBB=", "subscribe_conversation", {"conversationId": "conv-1"})
    refused = load_event("websocket_connect", REPLACE_WITH_TOKEN=user)
    refused["requestContext"]["connectionId"] = "CCCCCCCCCCCCCCC="
    assert connect.handler(refused, LambdaContext())["statusCode"] == 429
    connections_api.gone.add("BBBBBBBBBBBBBBB=")

    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})

    assert answer["json"]["pruned"] == 1
    open_connection(user, "CCCCCCCCCCCCCCC=")
    assert store.zrange("{t:tenant-a}:user:u1:conns", 0, -1) == ["AAAAAAAAAAAAAAA=", "CCCCCCCCCCCCCCC="]
    assert [key for key in store.scan_iter() if "BBBBBBBBBBBBBBB=" in key] == []
    assert not any("BBBBBBBBBBBBBBB=" in store.smembers(key) for key in store.keys("{t:tenant-a}:conv:*"))


def test_pruning_still_works_after_redis_lost_its_scripts(
    token: Callable[..., str], connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    open_connection(token("tenant-a", "u2"), "BBBBBBBBBBBBBBB=")
    connections_api.gone.add("BBBBBBBBBBBBBBB=")
    store.script_flush()

    answer = http("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})

    assert answer["json"]["pruned"] == 1
    assert [key for key in store.scan_iter() if "BBBBBBBBBBBBBBB=" in key] == []
    assert store.zrange("{t:tenant-a}:user:u2:conns", 0, -1) == []


NOT_JSON = {
    "NaN": float("nan"),
    "Infinity": float("inf"),
    "-Infinity": float("-inf"),
}


@pytest.mark.parametrize("literal", sorted(NOT_JSON))
@pytest.mark.parametrize("where", ["extra", "nested", "known"])
def test_nan_and_infinity_in_a_broadcast_are_refused_with_422_and_never_stored_or_delivered(
    literal: str,
    where: str,
    token: Callable[..., str],
    connections_api: ConnectionsApi,
    event_store: redis.Redis,
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    value = NOT_JSON[literal]
    if where == "known":
        body = {"event": "dashboard_status", "data": {"activeConnections": 1, "activeUsers": 1, "load": value}}
    elif where == "nested":
        body = {"event": "call_incoming", "data": {**CALL, "meta": {"scores": [1, {"x": value}]}}}
    else:
        body = {"event": "call_incoming", "data": {**CALL, "score": value}}
    assert literal in json.dumps(body)  # the request really carries the non-JSON literal

    answer = http("POST", "/broadcast/tenant/tenant-a", body)

    assert answer["statusCode"] == 422 and answer["json"]["error"]["code"] == "invalid_event"
    assert "NaN" in answer["json"]["error"]["message"]
    assert event_store.xlen("log:{t:tenant-a}:events") == 0
    assert connections_api.posted == {}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": {**CALL, "note": "\ud800"}}),
        ("/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": {**CALL, "\udfff": "key"}}),
        ("/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": {**CALL, "deep": [["a\udc00b"]]}}),
        ("/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL, "eventId": "evt-\ud800"}),
        ("/broadcast/", {"event": "call_incoming", "tenantId": "tenant-a", "conversationId": "\ud800", "data": CALL}),
        ("/broadcast/", {"event": "call_incoming", "tenantId": "tenant-\ud800", "data": CALL}),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_broadcast_is_422_and_nothing_is_stored(
    path: str,
    body: dict[str, Any],
    token: Callable[..., str],
    connections_api: ConnectionsApi,
    store: redis.Redis,
    event_store: redis.Redis,
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")

    answer = http("POST", path, body)

    assert answer["statusCode"] == 422 and answer["json"]["error"]["code"] == "invalid_event"
    assert "unicode" in answer["json"]["error"]["message"].lower()
    assert event_store.keys("log:*") == [] and connections_api.posted == {}
    assert [key for key in store.scan_iter() if "idem" in key] == []
