"""The events the gateway sends, held to the real payloads in tests/events/ key by key and type by type."""

from __future__ import annotations

import json
import re

import websockets

from local.testing import LocalGateway
from tests.local.conftest import (
    EventLog,
    assert_same_shape,
    connection_id_of,
    echo,
    wait_disconnect,
)
from tests.local.rawws import CLOSE, TEXT, RawWebSocket
from tests.support.lambda_env import load_event

GATEWAY_ID = re.compile(r"^[A-Za-z0-9+/]{15}=$")
CLF = re.compile(r"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000$")
FREE = frozenset({"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"})


async def test_connect_event_has_the_real_shape(chat: LocalGateway, event_log: EventLog) -> None:
    async with websockets.connect(chat.ws_url + "?token=REPLACE_WITH_TOKEN", user_agent_header="test-agent/1") as ws:
        connection_id = await connection_id_of(ws)
    (entry,) = event_log.entries("connect", connection_id)
    event = entry["event"]
    assert_same_shape(event, load_event("websocket_connect"), free=FREE)
    context = event["requestContext"]
    assert context["routeKey"] == "$connect"
    assert context["eventType"] == "CONNECT"
    assert context["messageDirection"] == "IN"
    assert context["stage"] == "test"
    assert context["identity"] == {"userAgent": "test-agent/1", "sourceIp": "127.0.0.1"}
    assert GATEWAY_ID.match(context["connectionId"])
    assert GATEWAY_ID.match(context["requestId"])
    assert context["extendedRequestId"] == context["requestId"]
    assert CLF.match(context["requestTime"])
    assert context["connectedAt"] <= context["requestTimeEpoch"]
    assert event["queryStringParameters"] == {"token": "REPLACE_WITH_TOKEN"}
    assert event["multiValueQueryStringParameters"] == {"token": ["REPLACE_WITH_TOKEN"]}
    headers = event["headers"]
    assert headers["Sec-WebSocket-Version"] == "13"
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Forwarded-Proto"] == "http"
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-")
    assert "Upgrade" not in headers and "Connection" not in headers
    assert event["multiValueHeaders"]["Sec-WebSocket-Key"] == [headers["Sec-WebSocket-Key"]]
    wait_disconnect(chat, connection_id)


async def test_connect_without_query_has_no_query_keys(chat: LocalGateway, event_log: EventLog) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
    (entry,) = event_log.entries("connect", connection_id)
    assert "queryStringParameters" not in entry["event"]
    assert "multiValueQueryStringParameters" not in entry["event"]


async def test_message_event_has_the_real_shape(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        reply = await echo(ws, data={"x": 1})
    event = reply["event"]
    assert_same_shape(event, load_event("websocket_message"), free=FREE)
    context = event["requestContext"]
    assert context["routeKey"] == "echo"
    assert context["eventType"] == "MESSAGE"
    assert GATEWAY_ID.match(context["messageId"])
    assert json.loads(event["body"]) == {"action": "echo", "data": {"x": 1}}
    assert event["isBase64Encoded"] is False
    assert "headers" not in event


async def test_disconnect_event_has_the_real_shape(chat: LocalGateway, event_log: EventLog) -> None:
    mark = chat.mark()
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        await ws.close(code=1000, reason="bye")
    wait_disconnect(chat, connection_id, since=mark)
    (entry,) = event_log.entries("disconnect", connection_id)
    event = entry["event"]
    expected = load_event("websocket_disconnect")
    assert_same_shape(event, expected)
    assert set(event["headers"]) == set(expected["headers"])
    context = event["requestContext"]
    assert context["eventType"] == "DISCONNECT"
    assert context["routeKey"] == "$disconnect"
    assert context["disconnectStatusCode"] == 1000
    assert context["disconnectReason"] == "bye"
    assert context["connectionId"] == connection_id


async def test_close_without_status_is_reported_as_1005(chat: LocalGateway, event_log: EventLog) -> None:
    mark = chat.mark()
    raw = RawWebSocket(chat.ws_url)
    try:
        raw.send_frame(TEXT, json.dumps({"action": "echo"}).encode())
        _, reply = raw.recv_frame()
        connection_id = json.loads(reply)["event"]["requestContext"]["connectionId"]
        raw.send_frame(CLOSE, b"")
        assert raw.recv_close_code() in (1000, 1005)
    finally:
        raw.close()
    wait_disconnect(chat, connection_id, since=mark)
    (entry,) = event_log.entries("disconnect", connection_id)
    assert entry["event"]["requestContext"]["disconnectStatusCode"] == 1005
