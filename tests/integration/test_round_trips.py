"""The Redis round-trip budget (docs/redis.md), counted as socket writes of the real redis client per node (a
cluster client writes to each node it needs), and checked to be independent of tenant size."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from connection_service import broadcast, connect, disconnect, message
from connection_service.shared_types import Broadcast
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event, reset_cold_start
from tests.support.redis_backends import RedisBackend
from tests.support.round_trips import RoundTrips

pytestmark = pytest.mark.usefixtures("lambda_env")


def connect_event(token: str, connection_id: str) -> dict[str, object]:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token)
    event["requestContext"]["connectionId"] = connection_id
    return event


def message_event(connection_id: str, body: dict[str, object]) -> dict[str, object]:
    event = load_event("websocket_message")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = json.dumps(body)
    return event


def measure(round_trips: RoundTrips, call: Callable[[], object]) -> int:
    return round_trips.per_node(call)


@pytest.mark.parametrize("tenant_size", [1, 300])
def test_round_trips_stay_within_budget_whatever_the_tenant_size(
    round_trips: RoundTrips, token: Callable[..., str], tenant_size: int, redis_backend: RedisBackend
) -> None:
    # Warm-up: a script's first EVALSHA on a fresh Redis also loads it (a one-time cost per server).
    for i in range(tenant_size):
        connect.handler(connect_event(token("tenant-a", f"user-{i % 15}"), f"warm-{i:010d}="), LambdaContext())
    message.handler(
        message_event("warm-0000000000=", {"action": "subscribe_conversation", "data": {"conversationId": "c"}}),
        LambdaContext(),
    )
    broadcaster = broadcast.broadcaster()
    call = Broadcast("call_missed", "tenant-a", {"callId": "x", "from": "+15550001111"})
    broadcaster.broadcast(call)
    broadcaster.broadcast(Broadcast("ai_activated", "tenant-a", {"conversationId": "c"}, conversation_id="c"))
    warm_disconnect = load_event("websocket_disconnect")
    warm_disconnect["requestContext"]["connectionId"] = "warm-0000000000="
    disconnect.handler(warm_disconnect, LambdaContext())
    cid = "measured-000001="

    # A registration is one script on a single server; in a cluster the connection's own keys take a second trip.
    trips = measure(
        round_trips, lambda: connect.handler(connect_event(token("tenant-a", "user-x"), cid), LambdaContext())
    )
    assert trips <= 2 if redis_backend.cluster else trips == 1
    assert measure(round_trips, lambda: message.handler(message_event(cid, {"action": "ping"}), LambdaContext())) <= 2
    assert (
        measure(
            round_trips,
            lambda: message.handler(
                message_event(cid, {"action": "subscribe_conversation", "data": {"conversationId": "c"}}),
                LambdaContext(),
            ),
        )
        <= 2
    )
    conversations = {"conversations": [f"conv-{i}" for i in range(50)]}
    hello = message_event(cid, {"action": "hello", "data": conversations})
    assert measure(round_trips, lambda: message.handler(hello, LambdaContext())) <= 2
    disconnect_event = load_event("websocket_disconnect")
    disconnect_event["requestContext"]["connectionId"] = cid
    assert measure(round_trips, lambda: disconnect.handler(disconnect_event, LambdaContext())) <= 2
    # A broadcast's recipient lookup and log append (fan-out itself goes to @connections, not Redis).
    assert measure(round_trips, lambda: broadcaster.broadcast(call)) <= 2
    conversation_call = Broadcast("ai_activated", "tenant-a", {"conversationId": "c"}, conversation_id="c")
    assert measure(round_trips, lambda: broadcaster.broadcast(conversation_call)) <= 2


def test_a_broadcast_that_prunes_and_the_message_that_closes_a_flooder_stay_within_budget(
    round_trips: RoundTrips,
    token: Callable[..., str],
    connections_api: ConnectionsApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MESSAGE_RATE_LIMIT_PER_SECOND", "0.001")
    monkeypatch.setenv("MESSAGE_RATE_LIMIT_BURST", "1")
    reset_cold_start()
    for i in range(3):
        connect.handler(connect_event(token("tenant-a", f"user-{i}"), f"conn-{i:011d}="), LambdaContext())
    broadcaster = broadcast.broadcaster()
    call = Broadcast("call_missed", "tenant-a", {"callId": "x", "from": "+15550001111"})
    connections_api.gone.add("conn-00000000002=")
    broadcaster.broadcast(call)  # warm-up: every script loaded
    connections_api.gone.add("conn-00000000001=")

    # The lookup and log append, then the prune: the gone connection's user, then one removal.
    assert measure(round_trips, lambda: broadcaster.broadcast(call)) <= 4

    flood = [
        measure(
            round_trips,
            lambda: message.handler(message_event("conn-00000000000=", {"action": "ping"}), LambdaContext()),
        )
        for _ in range(60)
    ]
    assert connections_api.deleted == ["conn-00000000000="]
    assert max(flood) <= 2
