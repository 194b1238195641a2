"""Connections the gateway serves itself (``WebSocketService.upgrade``, ``Socket``), in process: a listener that
hands each handshake to ``upgrade`` as the fast lane does, functions stood in for by Python callables."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket as sockets
import struct
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from local.config import GatewayConfig
from local.connections import ConnectionState
from local.gateway import Gateway
from local.model import AppModel, WebSocketApiSpec, WsRoute
from local.websocket import Socket, WebSocketService, parse_handshake
from tests.local.rawws import BINARY, CLOSE, CONTINUATION, TEXT, RawWebSocket

KB = 1024
Handler = Callable[[dict[str, Any]], Any]


@dataclass
class Functions:
    """The invoker: each function a callable; every event kept. A function may wait on ``hold``."""

    handlers: dict[str, Handler]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    hold: asyncio.Event | None = None
    invoked: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def invoke(self, logical_id: str, event: Any, timeout: float | None = None) -> Any:
        self.events.append((logical_id, event))
        async with self.invoked:
            self.invoked.notify_all()
        if self.hold is not None and logical_id == "Connect":
            await self.hold.wait()
        return self.handlers[logical_id](event)

    def of(self, logical_id: str) -> list[dict[str, Any]]:
        return [event for name, event in self.events if name == logical_id]

    async def called(self, logical_id: str, timeout: float = 5.0) -> None:
        """Wait until ``logical_id`` has been invoked (at most ``timeout`` seconds)."""
        async with self.invoked:
            await asyncio.wait_for(self.invoked.wait_for(lambda: bool(self.of(logical_id))), timeout)

    async def start(self) -> None: ...

    def environments(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    def metrics(self) -> list[dict[str, Any]]:
        return []

    async def settled(self) -> None: ...

    def reload(self) -> int:
        return 0

    async def shutdown(self) -> None: ...


def _connect(event: dict[str, Any]) -> Any:
    query = event.get("queryStringParameters") or {}
    if "reject" in query:
        return {"statusCode": int(query["reject"]), "body": json.dumps({"refused": True})}
    if "protocol" in query:
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": query["protocol"]}}
    return {"statusCode": 200}


def _echo(event: dict[str, Any]) -> Any:
    return {"statusCode": 200, "body": json.dumps({"echo": json.loads(event["body"]).get("data")})}


class Lane(asyncio.Protocol):
    """The fast lane's part: read a request head, hand it to ``upgrade``; anything it declines gets 400."""

    def __init__(self, service: WebSocketService) -> None:
        self.service = service
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end >= 0 and not self.service.upgrade(self.transport, self.buffer[:end], self.buffer[end + 4 :]):
            self.transport.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            self.transport.close()


@dataclass
class Served:
    url: str
    service: WebSocketService
    functions: Functions

    @property
    def gateway(self) -> Gateway:
        return self.service.gw

    def only_connection(self) -> Socket:
        (connection,) = self.gateway.connections.values()
        assert isinstance(connection, Socket)
        return connection


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    routes = {
        "$connect": WsRoute("$connect", "Connect"),
        "$disconnect": WsRoute("$disconnect", "Disconnect"),
        "$default": WsRoute("$default", "Default"),
        "echo": WsRoute("echo", "Echo", two_way=True),
    }
    api = WebSocketApiSpec("Api", "abcdef1234", "api", "$request.body.action", routes, "test")
    model = AppModel({}, api, [], [], "us-east-1", "123456789012")
    functions = Functions({"Connect": _connect, "Disconnect": lambda e: None, "Default": lambda e: None, "Echo": _echo})
    config = GatewayConfig(connect_rate=0)
    service = WebSocketService(Gateway(config, model, functions, "test"))
    server = await asyncio.get_running_loop().create_server(lambda: Lane(service), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config.port = port
    try:
        yield Served(f"ws://127.0.0.1:{port}/test", service, functions)
    finally:
        await service.shutdown(timeout=5)
        server.close()
        await server.wait_closed()


def _disconnect_context(served: Served) -> dict[str, Any]:
    (event,) = served.functions.of("Disconnect")
    context: dict[str, Any] = event["requestContext"]
    return context


# --- handshake ----------------------------------------------------------------------------------------------


async def test_connect_message_and_two_way_reply(served: Served) -> None:
    async with websockets.connect(served.url + "?token=a%2525b&x=1", user_agent_header="agent/1") as ws:
        await ws.send(json.dumps({"action": "echo", "data": "hi"}))
        assert json.loads(await ws.recv()) == {"echo": "hi"}
        await ws.send("not json")
        await served.functions.called("Default")
    (connect,) = served.functions.of("Connect")
    assert connect["queryStringParameters"] == {"token": "a%25b", "x": "1"}
    assert connect["headers"]["User-Agent"] == "agent/1"
    assert "Upgrade" not in connect["headers"] and "Connection" not in connect["headers"]
    assert connect["requestContext"]["identity"] == {"userAgent": "agent/1", "sourceIp": "127.0.0.1"}
    (message,) = served.functions.of("Default")
    assert message["body"] == "not json"
    assert message["requestContext"]["connectionId"] == connect["requestContext"]["connectionId"]


@pytest.mark.parametrize("status", [401, 403, 429, 500])
async def test_a_refused_connect_answers_its_status_and_body(served: Served, status: int) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(served.url + f"?reject={status}"):
            pass
    assert refused.value.response.status_code == status
    assert json.loads(refused.value.response.body or b"") == {"refused": True}
    assert not served.gateway.connections
    async with websockets.connect(served.url):  # a sentinel: its $disconnect comes after any the refusal caused
        pass
    await served.functions.called("Disconnect")
    assert len(served.functions.of("Disconnect")) == 1


async def test_the_subprotocol_named_by_connect_is_selected_when_offered(served: Served) -> None:
    async with websockets.connect(served.url + "?protocol=b", subprotocols=["a", "b"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == "b"
    async with websockets.connect(served.url + "?protocol=c", subprotocols=["a"]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol is None


@pytest.mark.parametrize(
    "head",
    [
        b"POST /test HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade",
        b"GET /test HTTP/1.0\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade",
        b"GET /te%73t HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade",
        b"GET /test HTTP/1.1\r\nHost: h\r\nConnection: Upgrade",
        b"GET /test HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive",
        b"GET /test HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade",
        b"GET /test HTTP/1.1\r\nHost: h\r\n folded\r\nUpgrade: websocket\r\nConnection: Upgrade",
        b"GET /test HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nContent-Length: 2",
    ],
)
def test_unusual_handshakes_are_left_to_aiohttp(head: bytes) -> None:
    key = b"\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + base64.b64encode(b"k" * 16)
    assert parse_handshake(head + key) is None


@pytest.mark.parametrize(
    ("version", "key"), [(b"8", base64.b64encode(b"k" * 16)), (b"13", b"c2hvcnQ="), (b"13", b"not base64!")]
)
def test_handshakes_with_another_version_or_a_bad_key_are_left_to_aiohttp(version: bytes, key: bytes) -> None:
    head = b"GET /test HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: "
    assert parse_handshake(head + version + b"\r\nSec-WebSocket-Key: " + key) is None


def test_a_plain_handshake_is_parsed() -> None:
    key = base64.b64encode(b"k" * 16).decode()
    head = (
        f"GET /test?token=t HTTP/1.1\r\nHost: gw:3105\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n"
        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Protocol: a, b\r\nX-Empty:"
    ).encode()
    handshake = parse_handshake(head)
    assert handshake is not None
    assert (handshake.path, handshake.query_string, handshake.host) == ("/test", "token=t", "gw:3105")
    assert handshake.protocols == ("a", "b")
    assert handshake.headers[-1] == ("X-Empty", "")


async def test_paths_other_than_the_apis_are_declined(served: Served) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(served.url.replace("/test", "/other")):
            pass
    assert refused.value.response.status_code == 400
    async with websockets.connect(served.url.replace("/test", "/")) as ws:
        await ws.send(json.dumps({"action": "echo", "data": "root"}))
        assert json.loads(await ws.recv()) == {"echo": "root"}


async def test_frames_sent_before_the_answer_are_read_after_connect(served: Served) -> None:
    served.functions.hold = asyncio.Event()
    key = base64.b64encode(os.urandom(16)).decode()
    reader, writer = await asyncio.open_connection("127.0.0.1", served.gateway.config.port)
    writer.write(
        f"GET /test HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\n\r\n".encode()
        + _masked(TEXT, b'{"action": "echo", "data": "early"}')
    )
    await served.functions.called("Connect")
    served.functions.hold.set()
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    header = await reader.readexactly(2)
    assert json.loads(await reader.readexactly(header[1])) == {"echo": "early"}
    writer.close()


async def test_a_client_gone_during_an_admitting_connect_gets_its_disconnect(served: Served) -> None:
    served.functions.hold = asyncio.Event()
    raw = await asyncio.to_thread(_raw_handshake_only, served.gateway.config.port)
    await served.functions.called("Connect")
    raw.close()
    served.functions.hold.set()  # $connect admits it only now, after the client left: API Gateway runs $disconnect
    await served.functions.called("Disconnect")
    assert _disconnect_context(served)["disconnectStatusCode"] == 1006
    assert not served.gateway.connections


# --- frames and closes --------------------------------------------------------------------------------------


async def test_client_close_runs_disconnect_with_its_code_and_reason(served: Served) -> None:
    async with websockets.connect(served.url) as ws:
        await ws.close(code=4000, reason="bye")
        assert ws.close_code == 4000
    await served.functions.called("Disconnect")
    context = _disconnect_context(served)
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (4000, "bye")
    assert not served.gateway.connections


async def test_close_without_status_is_1005(served: Served) -> None:
    raw = await asyncio.to_thread(RawWebSocket, served.url)
    await asyncio.to_thread(raw.send_frame, CLOSE, b"")
    assert await asyncio.to_thread(raw.recv_close_code) in (1000, 1005)
    raw.close()
    await served.functions.called("Disconnect")
    assert _disconnect_context(served)["disconnectStatusCode"] == 1005


async def test_a_dropped_socket_is_1006(served: Served) -> None:
    raw = await asyncio.to_thread(RawWebSocket, served.url)
    assert served.gateway.connections  # registered before the 101 the client has read
    raw.close()
    await served.functions.called("Disconnect")
    assert _disconnect_context(served)["disconnectStatusCode"] == 1006


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        ([(TEXT, b"x" * (32 * KB + 1), True)], 1009),
        (
            [(TEXT, b"x" * (32 * KB), False)]
            + [(CONTINUATION, b"x" * (32 * KB), False)] * 3
            + [(CONTINUATION, b"x", True)],
            1009,
        ),
        ([(BINARY, b"\x00\x01", True)], 1003),
        ([(TEXT, b"\xff\xfe", True)], 1007),
        ([(CONTINUATION, b"x", True)], 1002),
        ([(0x3, b"x", True)], 1002),
        ([(CLOSE, b"\x03\xed", True)], 1002),  # 1005 may not be sent
    ],
)
async def test_limits_and_protocol_errors_close_with_their_code(
    served: Served, frames: list[tuple[int, bytes, bool]], code: int
) -> None:
    raw = await asyncio.to_thread(RawWebSocket, served.url)
    try:
        for opcode, payload, fin in frames:
            await asyncio.to_thread(raw.send_frame, opcode, payload, fin)
        assert await asyncio.to_thread(raw.recv_close_code) == code
    finally:
        raw.close()
    await served.functions.called("Disconnect")
    assert _disconnect_context(served)["disconnectStatusCode"] == code


async def test_a_fragmented_message_up_to_the_limit_with_a_ping_between_passes(served: Served) -> None:
    prefix, suffix = b'{"action": "echo", "data": "', b'"}'
    message = prefix + b"x" * (128 * KB - len(prefix) - len(suffix)) + suffix
    chunks = [message[i : i + 32 * KB] for i in range(0, len(message), 32 * KB)]
    raw = await asyncio.to_thread(RawWebSocket, served.url)
    try:
        for index, chunk in enumerate(chunks):
            await asyncio.to_thread(raw.send_frame, TEXT if index == 0 else CONTINUATION, chunk, index == 3)
            if index == 1:
                await asyncio.to_thread(raw.send_frame, 0x9, b"are you there")
        assert await asyncio.to_thread(raw.recv_frame) == (0xA, b"are you there")
        opcode, reply = await asyncio.to_thread(raw.recv_frame)
        assert opcode == TEXT and len(json.loads(reply)["echo"]) == 128 * KB - 30
    finally:
        raw.close()


async def test_the_gateway_closes_sends_and_waits_for_the_clients_close(served: Served) -> None:
    async with websockets.connect(served.url) as ws:
        assert served.gateway.connections  # registered before the 101 the client has read
        connection = served.only_connection()
        assert connection.state is ConnectionState.OPEN
        assert await connection.send(b"pushed")
        assert await ws.recv() == "pushed"
        await served.service.close(connection, 1001, "Going away")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and (closed.value.rcvd.code, closed.value.rcvd.reason) == (1001, "Going away")
    assert not await connection.send(b"too late")
    await served.functions.called("Disconnect")
    context = _disconnect_context(served)
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


async def test_abort_drops_the_socket_without_a_close_frame(served: Served) -> None:
    async with websockets.connect(served.url) as ws:
        assert served.gateway.connections  # registered before the 101 the client has read
        served.only_connection().abort()
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is None
    await served.functions.called("Disconnect")
    assert _disconnect_context(served)["disconnectStatusCode"] == 1006


async def test_shutdown_closes_every_socket_going_away_and_waits_for_disconnect(served: Served) -> None:
    sockets_ = [await websockets.connect(served.url) for _ in range(3)]
    assert len(served.gateway.connections) == 3
    await served.service.shutdown(timeout=5)
    assert len(served.functions.of("Disconnect")) == 3
    for ws in sockets_:
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001


# --- helpers ------------------------------------------------------------------------------------------------


def _masked(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    assert len(payload) < 126
    return (
        struct.pack("!BB", 0x80 | opcode, 0x80 | len(payload))
        + mask
        + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    )


def _raw_handshake_only(port: int) -> sockets.socket:
    raw = sockets.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(os.urandom(16)).decode()
    raw.sendall(
        f"GET /test HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        f"Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    return raw
