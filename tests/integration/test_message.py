from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest
import redis

from connection_service import connect, message
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event

pytestmark = pytest.mark.usefixtures("lambda_env")

CID = "L0SM9cOFvHcCIhw="


@pytest.fixture
def connected(token: Callable[..., str]) -> str:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token("tenant-a", "user-1"))
    assert connect.handler(event, LambdaContext())["statusCode"] == 200
    return CID


def send(api: ConnectionsApi, body: str, connection_id: str = CID) -> dict[str, object]:
    event = load_event("websocket_message")
    event["body"] = body
    event["requestContext"]["connectionId"] = connection_id
    return api.route_response(connection_id, message.handler(event, LambdaContext()))


def test_hello_is_answered_with_authenticated(connected: str, connections_api: ConnectionsApi) -> None:
    assert send(connections_api, json.dumps({"action": "hello", "requestId": "r1", "data": {}}))["statusCode"] == 200

    [reply] = connections_api.frames(connected)
    assert reply == {
        "event": "authenticated",
        "requestId": "r1",
        "data": {
            "connectionId": connected,
            "tenantId": "tenant-a",
            "userId": "user-1",
            "heartbeatIntervalMs": 30000,
            "subscriptions": [],
        },
    }


def test_ping_is_answered_with_pong_and_refreshes_last_seen(
    connected: str, connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    store.hset(f"conn:{connected}", "lastSeenAt", 0)

    send(connections_api, '{"action":"ping","requestId":"p1"}')

    [reply] = connections_api.frames(connected)
    assert reply["event"] == "pong" and reply["requestId"] == "p1"
    assert float(store.hget(f"conn:{connected}", "lastSeenAt") or 0) > 0


def test_subscribe_and_unsubscribe_are_acknowledged(
    connected: str, connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    send(connections_api, '{"action":"subscribe_conversation","requestId":"s1","data":{"conversationId":"c-1"}}')
    assert store.smembers("{t:tenant-a}:conv:c-1") == {connected}

    send(connections_api, '{"action":"unsubscribe_conversation","requestId":"s2","data":{"conversationId":"c-1"}}')
    assert store.smembers("{t:tenant-a}:conv:c-1") == set()

    replies = connections_api.frames(connected)
    assert [(r["event"], r["requestId"]) for r in replies] == [("ack", "s1"), ("ack", "s2")]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "bad_request"),
        ("[]", "bad_request"),
        ('{"requestId":"x1"}', "bad_request"),
        ('{"action":"launch_missiles","requestId":"x1"}', "unknown_action"),
        ('{"action":"subscribe_conversation","requestId":"x1","data":{"conversationId":42}}', "bad_request"),
        ('{"action":"subscribe_conversation","requestId":"x1","data":"oops"}', "bad_request"),
        ('{"action":"hello","requestId":"x1","data":{"lastEventId":"yesterday"}}', "bad_request"),
        ("", "bad_request"),
        (
            '{"action":"subscribe_conversation","requestId":"x1","data":{"conversationId":"' + "é" * 200 + '"}}',
            "bad_request",
        ),
        ("[" * 100_000, "bad_request"),
    ],
)
def test_bad_frames_get_one_error_reply_with_a_code(
    connected: str, connections_api: ConnectionsApi, body: str, code: str
) -> None:
    assert send(connections_api, body)["statusCode"] == 200

    [reply] = connections_api.frames(connected)
    assert reply["event"] == "error"
    assert reply["data"]["code"] == code  # type: ignore[index]
    if '"requestId":"x1"' in body:
        assert reply["requestId"] == "x1"


def test_a_reply_of_one_frame_is_the_route_response_and_nothing_is_posted(
    connected: str, connections_api: ConnectionsApi
) -> None:
    response = send(connections_api, '{"action":"ping","requestId":"p"}')

    assert json.loads(str(response["body"]))["event"] == "pong"
    assert connections_api.requests == []


def replayed_hello(api: ConnectionsApi, token: Callable[..., str], connection_id: str) -> dict[str, object]:
    """Three events in the log, then a connection that resumes from the first: several frames to answer."""
    from connection_service import wiring

    log = wiring.current().event_log
    first = log.append("tenant-a", '{"event":"call_missed","data":{"n":0}}', time.time())
    log.append("tenant-a", '{"event":"call_missed","data":{"n":1}}', time.time())
    last = log.append("tenant-a", '{"event":"call_missed","data":{"n":2}}', time.time())
    while time.time() * 1000 <= int(last.id.split("-")[0]):  # events of the connection's own millisecond come live
        pass
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token("tenant-a", "user-2"))
    event["requestContext"]["connectionId"] = connection_id
    assert connect.handler(event, LambdaContext())["statusCode"] == 200
    return send(api, json.dumps({"action": "hello", "data": {"lastEventId": first.id}}), connection_id)


def test_a_reply_of_several_frames_is_posted_in_order_and_the_route_response_is_empty(
    connections_api: ConnectionsApi, token: Callable[..., str]
) -> None:
    response = replayed_hello(connections_api, token, "R0SM9cOFvHcCIhw=")

    assert "body" not in response
    frames = connections_api.frames("R0SM9cOFvHcCIhw=")
    assert [f["event"] for f in frames] == ["authenticated", "call_missed", "call_missed", "replay_complete"]
    assert [f["data"] for f in frames[1:3]] == [{"n": 1}, {"n": 2}]


def test_a_gone_connection_is_forgotten_when_its_posted_reply_fails(
    connections_api: ConnectionsApi, token: Callable[..., str], store: redis.Redis
) -> None:
    connections_api.gone.add("R0SM9cOFvHcCIhw=")

    assert replayed_hello(connections_api, token, "R0SM9cOFvHcCIhw=")["statusCode"] == 200

    assert not store.exists("conn:R0SM9cOFvHcCIhw=")
    assert store.zscore("{t:tenant-a}:conns", "R0SM9cOFvHcCIhw=") is None


def test_hello_resubscribes_the_listed_conversations(
    connected: str, connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    send(
        connections_api,
        json.dumps({"action": "hello", "requestId": "h", "data": {"conversations": ["c-1", "c-2", "c-1"]}}),
    )

    [reply] = connections_api.frames(connected)
    assert sorted(set(reply["data"]["subscriptions"])) == ["c-1", "c-2"]  # type: ignore[index]
    assert store.smembers("{t:tenant-a}:conv:c-1") == {connected}
    assert store.smembers("{t:tenant-a}:subs:" + connected) == {"c-1", "c-2"}


def test_subscriptions_per_connection_are_capped(connected: str, connections_api: ConnectionsApi) -> None:
    from connection_service import wiring
    from connection_service.registry import MAX_SUBSCRIPTIONS_PER_CONNECTION

    registry = wiring.current().registry
    taken = registry.subscribe_many(
        "tenant-a", connected, [f"c-{i}" for i in range(MAX_SUBSCRIPTIONS_PER_CONNECTION)], time.time()
    )
    assert len(taken) == MAX_SUBSCRIPTIONS_PER_CONNECTION

    send(
        connections_api,
        '{"action":"subscribe_conversation","requestId":"over","data":{"conversationId":"one-too-many"}}',
    )
    send(connections_api, '{"action":"subscribe_conversation","requestId":"again","data":{"conversationId":"c-0"}}')

    over, again = connections_api.frames(connected)
    assert over["event"] == "error" and over["data"]["code"] == "bad_request"  # type: ignore[index]
    assert again["event"] == "ack"


def test_redis_down_gets_an_unavailable_error_reply_not_a_crash(
    connected: str, connections_api: ConnectionsApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.support.lambda_env import reset_cold_start

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    reset_cold_start()

    assert send(connections_api, '{"action":"ping","requestId":"p"}')["statusCode"] == 200

    [reply] = connections_api.frames(connected)
    assert reply["event"] == "error" and reply["requestId"] == "p"
    assert reply["data"]["code"] == "unavailable"  # type: ignore[index]


def test_disconnect_with_redis_down_answers_503_without_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    from connection_service import disconnect
    from tests.support.lambda_env import reset_cold_start

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    reset_cold_start()

    assert disconnect.handler(load_event("websocket_disconnect"), LambdaContext())["statusCode"] == 503


def test_an_id_that_is_not_valid_unicode_is_a_bad_request(connected: str, connections_api: ConnectionsApi) -> None:
    send(connections_api, '{"action":"subscribe_conversation","requestId":"s","data":{"conversationId":"\\ud800"}}')

    [reply] = connections_api.frames(connected)
    assert reply["event"] == "error" and reply["data"]["code"] == "bad_request"  # type: ignore[index]


@pytest.mark.parametrize(
    "body",
    [
        '{"action":"ping","requestId":"x1","data":{"n":NaN}}',
        '{"action":"ping","requestId":"x1","data":{"n":[Infinity]}}',
        '{"action":"ping","requestId":"x1","data":{"n":{"m":-Infinity}}}',
        '{"action":"ping","requestId":"x1","data":{"note":"\\ud800"}}',
        '{"action":"ping","requestId":"x1","data":{"\\udfff":1}}',
        '{"action":"ping","requestId":"x1","data":{"list":["ok","a\\udc00b"]}}',
        '{"action":"ping\\ud800","requestId":"x1"}',
        '{"action":"hello","requestId":"x1","data":{"conversations":[],"lastEventId":NaN}}',
    ],
)
def test_a_frame_that_is_not_strict_json_is_a_bad_request(
    connected: str, connections_api: ConnectionsApi, body: str
) -> None:
    assert send(connections_api, body)["statusCode"] == 200

    [reply] = connections_api.frames(connected)
    assert reply["event"] == "error" and reply["requestId"] == "x1"
    assert reply["data"]["code"] == "bad_request"  # type: ignore[index]


@pytest.mark.parametrize(
    "request_id",
    ['"\\ud800"', '"a\\udfffb"', '"\\udbff\\udbff"', "7", '["r"]', '"' + "r" * 129 + '"'],
)
@pytest.mark.parametrize("action", ["ping", "hello", "no_such_action"])
def test_a_request_id_that_cannot_be_echoed_gets_one_bad_request_reply_with_a_null_request_id(
    connected: str, connections_api: ConnectionsApi, request_id: str, action: str
) -> None:
    assert send(connections_api, '{"action":"' + action + '","requestId":' + request_id + "}")["statusCode"] == 200

    [reply] = connections_api.frames(connected)
    assert reply == {"event": "error", "requestId": None, "data": reply["data"]}
    assert reply["data"]["code"] == "bad_request" and "requestId" in reply["data"]["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    "last_event_id",
    [
        "1-0\n",
        "1-0\r\n",
        "\u0661\u0662\u0663-0",  # Arabic-Indic digits: \d matches them
        "\uff11-0",  # a fullwidth digit
        "99999999999999999999-0",
        "18446744073709551616-0",
        "1-18446744073709551616",
        " 1-0",
        "1 -0",
        "-1-0",
        "1-",
        "1",
    ],
)
def test_a_last_event_id_that_is_not_a_stream_id_is_a_bad_request(
    connected: str, connections_api: ConnectionsApi, last_event_id: str
) -> None:
    send(connections_api, json.dumps({"action": "hello", "requestId": "h", "data": {"lastEventId": last_event_id}}))

    [reply] = connections_api.frames(connected)
    assert reply["event"] == "error" and reply["requestId"] == "h"
    assert reply["data"]["code"] == "bad_request"  # type: ignore[index]
    assert "lastEventId" in reply["data"]["message"]  # type: ignore[index]


@pytest.mark.parametrize(
    "last_event_id",
    [
        "0-0",
        "18446744073709551615-18446744073709551615",
        "18446744073709551615-0",
        "0001-0002",
        "1-18446744073709551615",
    ],
)
def test_a_last_event_id_at_the_edges_of_the_stream_id_range_is_answered(
    connected: str, connections_api: ConnectionsApi, last_event_id: str
) -> None:
    from connection_service import wiring

    wiring.current().event_log.append("tenant-a", '{"event":"ai_activated"}', time.time() - 1)  # a log to search
    send(connections_api, json.dumps({"action": "hello", "requestId": "h", "data": {"lastEventId": last_event_id}}))

    replies = connections_api.frames(connected)
    assert replies[0]["event"] == "authenticated" and replies[0]["requestId"] == "h"
    assert all(r["event"] in ("authenticated", "resync_required", "replay_complete", "ai_activated") for r in replies)


def test_a_resume_replays_up_to_now_not_only_to_the_connections_registration(
    connected: str, connections_api: ConnectionsApi
) -> None:
    from connection_service import wiring

    log = wiring.current().event_log
    seen = log.append("tenant-a", '{"event":"ai_activated","data":{}}', time.time()).id
    # Appended after the connection registered but never delivered to it (as when the broadcast looked up the
    # tenant's connections while $connect was registering this one).
    missed = log.append("tenant-a", '{"event":"ai_activated","data":{}}', time.time()).id
    send(connections_api, json.dumps({"action": "hello", "requestId": "h", "data": {"lastEventId": seen}}))

    frames = connections_api.frames(connected)
    assert [frame["event"] for frame in frames] == ["authenticated", "ai_activated", "replay_complete"]
    assert frames[1]["id"] == missed
    assert frames[2]["data"] == {"count": 1}
