"""Plain Lambda Invoke of the broadcast function: the event is the ``POST /broadcast/`` body (no requestContext)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis

from connection_service import broadcast
from tests.integration.test_broadcast import CALL, open_connection, send_action
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event, reset_cold_start

pytestmark = pytest.mark.usefixtures("lambda_env")

A1, A2, B1 = "AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "CCCCCCCCCCCCCCC="


def invoke(event: Any) -> dict[str, Any]:
    return broadcast.handler(event, LambdaContext())


def test_a_direct_invoke_delivers_to_the_tenant_without_a_service_key(
    token: Callable[..., str], connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    open_connection(token("tenant-b", "u3"), B1)

    answer = invoke({"event": "call_incoming", "tenantId": "tenant-a", "data": CALL})

    assert answer == {
        "ok": True,
        "status": 202,
        "id": answer["id"],
        "delivered": 2,
        "failed": 0,
        "pruned": 0,
        "duplicate": False,
    }
    for cid in (A1, A2):
        [frame] = connections_api.frames(cid)
        assert frame["id"] == answer["id"] and frame["event"] == "call_incoming" and frame["data"] == CALL
    assert connections_api.frames(B1) == []
    assert event_store.xlen("log:{t:tenant-a}:events") == 1


def test_a_direct_invoke_with_a_conversation_reaches_only_its_subscribers(
    token: Callable[..., str], connections_api: ConnectionsApi
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    send_action(A1, "subscribe_conversation", {"conversationId": "conv-1"})

    answer = invoke(
        {
            "event": "ai_activated",
            "tenantId": "tenant-a",
            "conversationId": "conv-1",
            "data": {"conversationId": "conv-1"},
        }
    )

    assert answer["ok"] is True and answer["delivered"] == 1
    assert connections_api.frames(A1)[-1]["event"] == "ai_activated"
    assert connections_api.frames(A2) == []


def test_a_repeated_event_id_is_delivered_once_and_answers_the_first_id(
    token: Callable[..., str], connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    body = {"event": "call_missed", "tenantId": "tenant-a", "data": CALL, "eventId": "evt-42"}

    first = invoke(body)
    second = invoke(body)

    assert first["ok"] and second["ok"]
    assert second["id"] == first["id"] and second["duplicate"] is True and second["delivered"] == 0
    assert len(connections_api.frames(A1)) == 1
    assert event_store.xlen("log:{t:tenant-a}:events") == 1


def test_the_same_event_id_over_http_and_invoke_is_one_event(
    token: Callable[..., str], connections_api: ConnectionsApi
) -> None:
    from tests.integration.test_broadcast import http

    open_connection(token("tenant-a", "u1"), A1)
    body = {"event": "call_missed", "tenantId": "tenant-a", "data": CALL, "eventId": "evt-7"}

    over_http = http("POST", "/broadcast/", body)
    invoked = invoke(body)

    assert invoked["id"] == over_http["json"]["id"] and invoked["duplicate"] is True
    assert len(connections_api.frames(A1)) == 1


@pytest.mark.parametrize(
    ("event", "status", "code", "mentions"),
    [
        ({"event": "no_such_event", "tenantId": "tenant-a", "data": {}}, 422, "invalid_event", "no_such_event"),
        ({"event": "call_incoming", "tenantId": "tenant-a", "data": {"callId": "c"}}, 422, "invalid_event", "from"),
        ({"event": "call_incoming", "data": CALL}, 422, "invalid_event", "tenantId"),
        ({"event": "call_incoming", "tenantId": "{t:x}", "data": CALL}, 422, "invalid_event", "tenantId"),
        ({"event": "call_incoming", "tenantId": "tenant-a", "data": "text"}, 422, "invalid_event", "data"),
        (
            {
                "event": "message_received",
                "tenantId": "tenant-a",
                "data": {"messageId": "m", "conversationId": "c", "from": "x", "body": "é" * 140_000},
            },
            413,
            "payload_too_large",
            "bytes",
        ),
        (["not", "an", "object"], 400, "bad_request", "JSON object"),
        ("call_incoming", 400, "bad_request", "JSON object"),
    ],
)
def test_invalid_invokes_are_answered_not_raised_and_nothing_is_logged(
    event: Any, status: int, code: str, mentions: str, event_store: redis.Redis, connections_api: ConnectionsApi
) -> None:
    answer = invoke(event)

    assert answer["ok"] is False and answer["status"] == status and answer["retryable"] is False
    assert answer["error"]["code"] == code and mentions in answer["error"]["message"]
    assert event_store.xlen("log:{t:tenant-a}:events") == 0
    assert connections_api.posted == {}


def test_redis_down_is_a_retryable_503_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    reset_cold_start()

    answer = invoke({"event": "call_incoming", "tenantId": "tenant-a", "data": CALL})

    assert answer == {
        "ok": False,
        "status": 503,
        "error": {"code": "unavailable", "message": "service temporarily unavailable"},
        "retryable": True,
        "retryAfter": 1,
    }


def test_an_api_gateway_event_is_still_served_by_the_http_api(token: Callable[..., str]) -> None:
    event = load_event("http_api_v2_get")  # GET /health/: has requestContext, so it is not a direct invoke

    answer = invoke(event)

    assert answer["statusCode"] == 200 and '"status":"ok"' in answer["body"]


def test_an_event_with_a_request_context_that_is_no_http_event_is_refused(connections_api: ConnectionsApi) -> None:
    event = load_event("websocket_message")  # a WebSocket event sent to the wrong function

    answer = invoke(event)

    assert answer["ok"] is False and answer["status"] == 400
    assert connections_api.posted == {}


@pytest.mark.parametrize(
    ("event", "mentions"),
    [
        ({"event": "call_incoming", "tenantId": "tenant-a", "data": {**CALL, "score": float("nan")}}, "NaN"),
        ({"event": "call_incoming", "tenantId": "tenant-a", "data": {**CALL, "x": [float("inf")]}}, "NaN"),
        ({"event": "call_incoming", "tenantId": "tenant-a", "data": {**CALL, "x": {"y": -float("inf")}}}, "NaN"),
        ({"event": "call_incoming", "tenantId": "tenant-a", "data": {**CALL, "note": "\ud800"}}, "Unicode"),
        ({"event": "call_incoming", "tenantId": "tenant-a", "data": CALL, "eventId": "\udbff"}, "Unicode"),
        ({"event": "call_incoming", "tenantId": "tenant-\ud800", "data": CALL}, "Unicode"),
    ],
)
def test_data_that_is_not_strict_json_is_a_422_answer_and_nothing_is_stored(
    event: dict[str, Any],
    mentions: str,
    token: Callable[..., str],
    event_store: redis.Redis,
    connections_api: ConnectionsApi,
) -> None:
    open_connection(token("tenant-a", "u1"), A1)

    answer = invoke(event)

    assert answer["ok"] is False and answer["status"] == 422 and answer["retryable"] is False
    assert answer["error"]["code"] == "invalid_event" and mentions.lower() in answer["error"]["message"].lower()
    assert event_store.keys("log:*") == [] and connections_api.posted == {}
