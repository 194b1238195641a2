"""User actions on ``$default``: validated, forwarded to as-call-service (a stand-in HTTP server), acked with its
answer, and announced to the caller's tenant through the event log."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from connection_service import connect, message
from tests.integration.conftest import SERVICE_KEY
from tests.support.aws_connections import ConnectionsApi
from tests.support.call_service import CallServiceStub
from tests.support.lambda_env import LambdaContext, load_event

pytestmark = pytest.mark.usefixtures("lambda_env")

CALLER = "AAAAAAAAAAAAAAA="  # tenant-a, user-1
COLLEAGUE = "BBBBBBBBBBBBBBB="  # tenant-a, user-2
STRANGER = "CCCCCCCCCCCCCCC="  # tenant-b, user-3

TAKEOVER = "/conversations/conv-1/takeover"
MESSAGES = "/conversations/conv-1/messages"
LEAD_STATUS = "/leads/lead-1/status"


@pytest.fixture
def call_service(monkeypatch: pytest.MonkeyPatch, lambda_env: None) -> Iterator[CallServiceStub]:
    with CallServiceStub() as stub:
        monkeypatch.setenv("AS_CALL_SERVICE_URL", stub.url)
        monkeypatch.setenv("UPSTREAM_TIMEOUT_S", "1")
        yield stub


@pytest.fixture
def dashboards(token: Callable[..., str], call_service: CallServiceStub) -> None:
    """Three open connections, the environment (and its stand-in upstream) set before the cold start."""
    for cid, tenant, user in (
        (CALLER, "tenant-a", "user-1"),
        (COLLEAGUE, "tenant-a", "user-2"),
        (STRANGER, "tenant-b", "user-3"),
    ):
        event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token(tenant, user))
        event["requestContext"]["connectionId"] = cid
        assert connect.handler(event, LambdaContext())["statusCode"] == 200


def send(
    api: ConnectionsApi, action: str, data: Any, request_id: str | None = "r1", connection_id: str = CALLER
) -> None:
    frame: dict[str, Any] = {"action": action, "data": data}
    if request_id is not None:
        frame["requestId"] = request_id
    event = load_event("websocket_message")
    event["body"] = json.dumps(frame)
    event["requestContext"]["connectionId"] = connection_id
    assert api.route_response(connection_id, message.handler(event, LambdaContext()))["statusCode"] == 200


def reply(connections_api: ConnectionsApi, request_id: str = "r1") -> dict[str, Any]:
    """The one reply to the caller's request ``request_id``."""
    [frame] = [f for f in connections_api.frames(CALLER) if f.get("requestId") == request_id]
    return frame


def error_code(connections_api: ConnectionsApi, request_id: str = "r1") -> str:
    frame = reply(connections_api, request_id)
    assert frame["event"] == "error"
    return str(frame["data"]["code"])


def assert_nothing_announced(connections_api: ConnectionsApi, event_store: redis.Redis) -> None:
    assert connections_api.frames(COLLEAGUE) == []
    assert connections_api.frames(STRANGER) == []
    assert event_store.xlen("log:{t:tenant-a}:events") == 0


def assert_forwarded_as_caller(headers: dict[str, str], request_id: str = "r1") -> None:
    assert headers["x-internal-service-key"] == SERVICE_KEY
    assert headers["idempotency-key"] == request_id
    assert headers["x-tenant-id"] == "tenant-a"
    assert headers["x-user-id"] == "user-1"
    assert headers["content-type"] == "application/json"


# --- success paths -----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("dashboards")
def test_takeover_is_forwarded_acked_and_announced_to_the_tenant_only(
    call_service: CallServiceStub, connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    call_service.answer(TAKEOVER, 200, {"conversationId": "conv-1", "mode": "human", "takenOverBy": "user-1"})

    send(connections_api, "takeover_conversation", {"conversationId": "conv-1"})

    [request] = call_service.recorded()
    assert (request.method, request.path, request.json) == ("POST", TAKEOVER, {})
    assert_forwarded_as_caller(request.headers)
    assert reply(connections_api) == {
        "event": "ack",
        "requestId": "r1",
        "data": {
            "action": "takeover_conversation",
            "result": {"conversationId": "conv-1", "mode": "human", "takenOverBy": "user-1"},
        },
    }
    [announced] = connections_api.frames(COLLEAGUE)
    assert announced["event"] == "conversation_taken_over"
    assert announced["tenantId"] == "tenant-a"
    assert announced["data"] == {"conversationId": "conv-1", "userId": "user-1"}
    [(log_id, _)] = list(event_store.xrange("log:{t:tenant-a}:events") or [])
    assert announced["id"] == log_id
    assert [f["event"] for f in connections_api.frames(CALLER)] == ["conversation_taken_over", "ack"]
    assert connections_api.frames(STRANGER) == []


@pytest.mark.usefixtures("dashboards")
def test_lead_status_update_is_forwarded_acked_and_announced_to_the_tenant_only(
    call_service: CallServiceStub, connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    call_service.answer(LEAD_STATUS, 200, {"leadId": "lead-1", "status": "qualified"})

    send(connections_api, "update_lead_status", {"leadId": "lead-1", "status": "qualified"})

    [request] = call_service.recorded()
    assert (request.method, request.path, request.json) == ("PATCH", LEAD_STATUS, {"status": "qualified"})
    assert_forwarded_as_caller(request.headers)
    ack = reply(connections_api)
    assert ack["event"] == "ack"
    assert ack["data"] == {"action": "update_lead_status", "result": {"leadId": "lead-1", "status": "qualified"}}
    [announced] = connections_api.frames(COLLEAGUE)
    assert announced["event"] == "lead_status_updated"
    assert announced["data"] == {"leadId": "lead-1", "status": "qualified", "userId": "user-1"}
    [(log_id, _)] = list(event_store.xrange("log:{t:tenant-a}:events") or [])
    assert announced["id"] == log_id
    assert connections_api.frames(STRANGER) == []


@pytest.mark.usefixtures("dashboards")
def test_send_message_is_forwarded_and_acked_without_an_announcement(
    call_service: CallServiceStub, connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    call_service.answer(MESSAGES, 201, {"messageId": "m-1", "status": "queued"})

    send(connections_api, "send_message", {"conversationId": "conv-1", "body": "On my way!"})

    [request] = call_service.recorded()
    assert (request.method, request.path, request.json) == ("POST", MESSAGES, {"body": "On my way!"})
    assert_forwarded_as_caller(request.headers)
    ack = reply(connections_api)
    assert ack["event"] == "ack"
    assert ack["data"] == {"action": "send_message", "result": {"messageId": "m-1", "status": "queued"}}
    assert_nothing_announced(connections_api, event_store)


@pytest.mark.usefixtures("dashboards")
def test_a_unicode_heavy_sms_body_of_the_maximum_length_is_forwarded_intact(
    call_service: CallServiceStub, connections_api: ConnectionsApi
) -> None:
    text = 'Grüße 👋🏽 你好 مرحبا שלום e\u0301 \U0001f600\n\t"quotes" \\ '
    body = (text * 100)[:1600]

    send(connections_api, "send_message", {"conversationId": "conv-1", "body": body})

    [request] = call_service.recorded()
    assert request.json == {"body": body}
    assert request.raw.decode("utf-8") == json.dumps({"body": body}, ensure_ascii=False, separators=(",", ":"))
    assert reply(connections_api)["event"] == "ack"


@pytest.mark.usefixtures("dashboards")
def test_path_ids_are_percent_encoded(call_service: CallServiceStub, connections_api: ConnectionsApi) -> None:
    send(connections_api, "takeover_conversation", {"conversationId": "a/../b?x=1#é"})

    [request] = call_service.recorded()
    assert request.path == "/conversations/a%2F..%2Fb%3Fx%3D1%23%C3%A9/takeover"
    assert reply(connections_api)["event"] == "ack"


@pytest.mark.usefixtures("dashboards")
def test_an_idempotency_key_is_made_up_when_the_client_gives_no_request_id(
    call_service: CallServiceStub, connections_api: ConnectionsApi
) -> None:
    send(connections_api, "send_message", {"conversationId": "conv-1", "body": "one"}, request_id=None)
    send(connections_api, "send_message", {"conversationId": "conv-1", "body": "two"}, request_id=None)

    keys = [r.headers.get("idempotency-key") for r in call_service.recorded()]
    assert len(keys) == 2 and all(keys) and keys[0] != keys[1]
    assert [f["event"] for f in connections_api.frames(CALLER)] == ["ack", "ack"]


@pytest.mark.usefixtures("dashboards")
def test_a_retried_request_is_forwarded_again_but_announced_once(
    call_service: CallServiceStub, connections_api: ConnectionsApi
) -> None:
    send(connections_api, "update_lead_status", {"leadId": "lead-1", "status": "won"}, request_id="retry-1")
    send(connections_api, "update_lead_status", {"leadId": "lead-1", "status": "won"}, request_id="retry-1")

    assert [r.headers["idempotency-key"] for r in call_service.recorded()] == ["retry-1", "retry-1"]
    assert [f["event"] for f in connections_api.frames(COLLEAGUE)] == ["lead_status_updated"]
    assert [f["event"] for f in connections_api.frames(CALLER) if f.get("requestId")] == ["ack", "ack"]


# --- upstream failures -------------------------------------------------------------------------------------


@pytest.mark.usefixtures("dashboards")
def test_upstream_down_answers_upstream_unavailable_and_announces_nothing(
    call_service: CallServiceStub, connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    call_service.stop()

    send(connections_api, "takeover_conversation", {"conversationId": "conv-1"})

    assert error_code(connections_api) == "upstream_unavailable"
    assert [f["event"] for f in connections_api.frames(CALLER)] == ["error"]
    assert_nothing_announced(connections_api, event_store)


@pytest.mark.usefixtures("dashboards")
def test_upstream_too_slow_answers_upstream_unavailable_and_announces_nothing(
    call_service: CallServiceStub, connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    call_service.slow = True  # released when the stub stops, at teardown

    send(connections_api, "update_lead_status", {"leadId": "lead-1", "status": "won"})

    assert len(call_service.recorded()) == 1
    assert error_code(connections_api) == "upstream_unavailable"
    assert_nothing_announced(connections_api, event_store)


@pytest.mark.usefixtures("dashboards")
@pytest.mark.parametrize(
    ("status", "body", "raw"),
    [
        (500, {"message": "database exploded at 10.0.0.3"}, None),
        (503, None, None),
        (200, None, b"<html>Bad gateway</html>"),
        (200, None, b'{"mode":"human","score":NaN}'),  # not JSON to a dashboard: JSON.parse refuses NaN
        (200, None, b'{"mode":"human","note":"\\ud800"}'),  # a lone surrogate: no UTF-8 to send it in
        (401, {"message": "bad service key"}, None),
    ],
)
def test_upstream_errors_and_unreadable_answers_are_upstream_unavailable(
    call_service: CallServiceStub,
    connections_api: ConnectionsApi,
    event_store: redis.Redis,
    status: int,
    body: Any,
    raw: bytes | None,
) -> None:
    call_service.answer(TAKEOVER, status, body, raw=raw)

    send(connections_api, "takeover_conversation", {"conversationId": "conv-1"})

    assert error_code(connections_api) == "upstream_unavailable"
    assert "10.0.0.3" not in json.dumps(reply(connections_api))
    assert_nothing_announced(connections_api, event_store)


@pytest.mark.usefixtures("dashboards")
@pytest.mark.parametrize("status", [403, 404])
def test_upstream_forbidden_or_not_found_is_forbidden_without_details(
    call_service: CallServiceStub, connections_api: ConnectionsApi, event_store: redis.Redis, status: int
) -> None:
    call_service.answer(LEAD_STATUS, status, {"message": "lead-1 belongs to tenant-z"})

    send(connections_api, "update_lead_status", {"leadId": "lead-1", "status": "won"})

    assert error_code(connections_api) == "forbidden"
    assert "tenant-z" not in json.dumps(reply(connections_api))
    assert_nothing_announced(connections_api, event_store)


@pytest.mark.usefixtures("dashboards")
@pytest.mark.parametrize("status", [400, 422])
def test_upstream_validation_errors_are_bad_request_with_its_message(
    call_service: CallServiceStub, connections_api: ConnectionsApi, event_store: redis.Redis, status: int
) -> None:
    call_service.answer(LEAD_STATUS, status, {"message": "status must be one of new, qualified, won, lost"})

    send(connections_api, "update_lead_status", {"leadId": "lead-1", "status": "maybe"})

    frame = reply(connections_api)
    assert frame["event"] == "error"
    assert frame["data"] == {"code": "bad_request", "message": "status must be one of new, qualified, won, lost"}
    assert_nothing_announced(connections_api, event_store)


# --- invalid data never reaches upstream -------------------------------------------------------------------


@pytest.mark.usefixtures("dashboards")
@pytest.mark.parametrize(
    ("action", "data"),
    [
        ("takeover_conversation", {}),
        ("takeover_conversation", {"conversationId": 42}),
        ("takeover_conversation", {"conversationId": ""}),
        ("takeover_conversation", {"conversationId": "   "}),
        ("takeover_conversation", {"conversationId": "c" * 129}),
        ("takeover_conversation", {"conversationId": ".."}),
        ("takeover_conversation", {"conversationId": "\ud800"}),
        ("takeover_conversation", "conv-1"),
        ("send_message", {"conversationId": "conv-1"}),
        ("send_message", {"conversationId": "conv-1", "body": ""}),
        ("send_message", {"conversationId": "conv-1", "body": " \n "}),
        ("send_message", {"conversationId": "conv-1", "body": ["hi"]}),
        ("send_message", {"conversationId": "conv-1", "body": "é" * 1601}),
        ("send_message", {"conversationId": "conv-1", "body": "bad \udc00 text"}),
        ("send_message", {"body": "hi"}),
        ("update_lead_status", {"leadId": "lead-1"}),
        ("update_lead_status", {"leadId": "lead-1", "status": ""}),
        ("update_lead_status", {"leadId": "lead-1", "status": 3}),
        ("update_lead_status", {"leadId": "lead-1", "status": "s" * 65}),
        ("update_lead_status", {"leadId": "lead-1", "status": "won\r\nX-Injected: 1"}),
        ("update_lead_status", {"leadId": None, "status": "won"}),
    ],
)
def test_invalid_data_is_a_bad_request_and_never_reaches_upstream(
    call_service: CallServiceStub,
    connections_api: ConnectionsApi,
    event_store: redis.Redis,
    action: str,
    data: Any,
) -> None:
    send(connections_api, action, data)

    assert error_code(connections_api) == "bad_request"
    assert call_service.recorded() == []
    assert_nothing_announced(connections_api, event_store)
