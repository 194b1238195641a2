"""A client of tenant B tries every path to tenant A's events; none reaches it."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis

from connection_service import broadcast, connect, message
from connection_service.shared_types import Broadcast
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event

pytestmark = pytest.mark.usefixtures("lambda_env")

A, B = "AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB="


def open_connection(token: str, connection_id: str) -> None:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token)
    event["requestContext"]["connectionId"] = connection_id
    assert connect.handler(event, LambdaContext())["statusCode"] == 200


def send(api: ConnectionsApi, connection_id: str, action: str, data: dict[str, object]) -> None:
    event = load_event("websocket_message")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = json.dumps({"action": action, "requestId": "r", "data": data})
    api.route_response(connection_id, message.handler(event, LambdaContext()))


@pytest.fixture
def two_tenants(lambda_env: None, token: Callable[..., str]) -> None:
    open_connection(token("tenant-a", "alice"), A)
    open_connection(token("tenant-b", "mallory"), B)


@pytest.mark.usefixtures("two_tenants")
def test_subscribing_to_another_tenants_conversation_id_gets_nothing_of_it(
    connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    send(connections_api, A, "subscribe_conversation", {"conversationId": "conv-1"})
    send(connections_api, B, "subscribe_conversation", {"conversationId": "conv-1"})

    result = broadcast.broadcaster().broadcast(
        Broadcast("ai_activated", "tenant-a", {"conversationId": "conv-1"}, conversation_id="conv-1")
    )

    assert result.delivered == 1
    assert [f["event"] for f in connections_api.frames(B)] == ["ack"]
    assert store.smembers("{t:tenant-a}:conv:conv-1") == {A}
    assert store.smembers("{t:tenant-b}:conv:conv-1") == {B}


@pytest.mark.usefixtures("two_tenants")
def test_replay_with_another_tenants_event_id_never_yields_its_events(connections_api: ConnectionsApi) -> None:
    first = broadcast.broadcaster().broadcast(Broadcast("call_missed", "tenant-a", {"callId": "1", "from": "+1"}))
    broadcast.broadcaster().broadcast(Broadcast("call_missed", "tenant-a", {"callId": "2", "from": "+1"}))

    send(connections_api, B, "hello", {"lastEventId": first.id, "conversations": []})

    frames = connections_api.frames(B)
    assert frames[0]["event"] == "authenticated" and frames[0]["data"]["tenantId"] == "tenant-b"  # type: ignore[index]
    assert all(f.get("tenantId") in (None, "tenant-b") for f in frames)
    assert not any(f["event"] == "call_missed" for f in frames)


@pytest.mark.usefixtures("two_tenants")
def test_tenant_broadcasts_and_conversation_broadcasts_stay_in_their_tenant(connections_api: ConnectionsApi) -> None:
    broadcaster = broadcast.broadcaster()
    broadcaster.broadcast(Broadcast("call_incoming", "tenant-a", {"callId": "1", "from": "+1", "to": "+2"}))
    broadcaster.broadcast(Broadcast("ai_activated", "tenant-a", {"conversationId": "x"}, conversation_id="x"))

    assert connections_api.frames(B) == []
    assert [f["event"] for f in connections_api.frames(A)] == ["call_incoming"]


def test_a_tenant_claim_that_would_escape_its_hash_tag_is_refused(
    token: Callable[..., str], store: redis.Redis
) -> None:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token("tenant-a}:conns", "u"))

    assert connect.handler(event, LambdaContext())["statusCode"] == 401
    assert store.keys("*") == []
