"""The WebSocket API's behaviour: handshake outcomes, route selection, errors, two-way routes."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
import websockets
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from local.testing import LocalGateway
from tests.local.conftest import EventLog, connection_id_of, echo


@pytest.mark.parametrize("status", [401, 403, 429])
async def test_connect_non_2xx_refuses_the_handshake_with_that_status(chat: LocalGateway, status: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(chat.ws_url + f"?reject={status}"):
            pass
    assert refused.value.response.status_code == status


async def test_connect_exception_is_502(chat: LocalGateway) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(chat.ws_url + "?boom=1"):
            pass
    assert refused.value.response.status_code == 502


async def test_subprotocol_from_connect_response_is_negotiated(chat: LocalGateway) -> None:
    async with websockets.connect(
        chat.ws_url + "?protocol=chat.v2", subprotocols=[Subprotocol("chat.v1"), Subprotocol("chat.v2")]
    ) as ws:
        assert ws.subprotocol == "chat.v2"


async def test_without_subprotocol_in_connect_response_none_is_selected(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url, subprotocols=[Subprotocol("chat.v1")]) as ws:
        assert ws.subprotocol is None
        await echo(ws)


async def test_posting_to_a_connection_during_connect_is_gone(chat: LocalGateway, event_log: EventLog) -> None:
    async with websockets.connect(chat.ws_url + "?selfpost=1") as ws:
        connection_id = await connection_id_of(ws)
    (entry,) = event_log.entries("connect", connection_id)
    assert entry["selfpost"] == "GoneException"


async def test_the_root_path_serves_the_api_too(chat: LocalGateway) -> None:
    async with websockets.connect(f"ws://127.0.0.1:{chat.port}/") as ws:
        reply = await echo(ws, data="root")
    assert reply["echo"] == "root"


async def test_custom_route_is_selected_by_the_expression(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        await ws.send(json.dumps({"action": "sendmessage", "data": "hi"}))
        assert json.loads(await ws.recv()) == "hi"
        results = json.loads(await ws.recv())["results"]
        assert list(results.values()) == ["ok"]


@pytest.mark.parametrize(
    "frame", ["plain text", "[1, 2]", '{"action": "nosuchroute"}', '{"no": "action"}', '{"action": 7}', "{bad json"]
)
async def test_unmatched_messages_go_to_default(chat: LocalGateway, frame: str) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        await ws.send(frame)
        reply = json.loads(await ws.recv())
    assert reply["default"] == frame
    assert reply["routeKey"] == "$default"


async def test_handler_exception_sends_internal_server_error_and_keeps_the_socket(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        await ws.send("boom")
        error = json.loads(await ws.recv())
        assert error["message"] == "Internal server error"
        assert error["connectionId"] == connection_id
        assert re.match(r"^[A-Za-z0-9+/]{15}=$", error["requestId"])
        assert (await echo(ws, data="still open"))["echo"] == "still open"


async def test_two_way_route_returns_the_body(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        reply = await echo(ws, data=[1, 2, 3])
    assert reply["echo"] == [1, 2, 3]


async def test_one_way_routes_do_not_return_the_body(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        mark = chat.mark()
        # Same function as the two-way echo route, but no route response: its body must not arrive.
        await ws.send(json.dumps({"action": "oneway", "data": "lost"}))
        chat.wait_for_log(rf"MESSAGE +{re.escape(connection_id)} oneway -> EchoFunction 200", since=mark)
        # $default posts its reply through @connections and also returns a body, which must not arrive.
        await ws.send("hello")
        assert json.loads(await ws.recv())["default"] == "hello"
        chat.wait_for_log(rf"MESSAGE +{re.escape(connection_id)} \$default -> DefaultFunction 200", since=mark)
        assert (await echo(ws, data="next"))["echo"] == "next"


async def test_lambda_context_is_complete(chat: LocalGateway) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        context = (await echo(ws))["context"]
    assert context["function_name"] == "EchoFunction"
    assert context["memory_limit_in_mb"] == "256"
    assert context["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:EchoFunction"
    assert 0 < context["remaining"] <= 2000
    assert re.match(r"^[0-9a-f-]{36}$", context["aws_request_id"])


def test_plain_http_get_on_the_websocket_path_is_426(chat: LocalGateway) -> None:
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(chat.ws_url.replace("ws://", "http://"), timeout=10)
    assert answer.value.code == 426
