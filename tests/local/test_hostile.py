"""Hostile input to the local gateway: it answers as API Gateway would, and never goes silent."""

from __future__ import annotations

import asyncio
import http.client
import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from local.testing import LocalGateway
from tests.local.conftest import APPS, CHAT, EventLog, connection_id_of, hold_fifo, release, wait_disconnect
from tests.local.rawws import TEXT, RawWebSocket

DEEP = 5000


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param("[" * 10_000, id="10000-open-brackets"),
        pytest.param('{"a":' * DEEP + "1" + "}" * DEEP, id="valid-json-5000-deep"),
        pytest.param('{"action": ' + "[" * DEEP + "]" * DEEP + "}", id="route-value-5000-deep"),
    ],
)
async def test_json_too_deep_for_route_selection_goes_to_default(chat: LocalGateway, frame: str) -> None:
    async with websockets.connect(chat.ws_url, max_size=None) as ws:
        await ws.send(frame)
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))  # bounded: the old gateway never answered
    assert reply["routeKey"] == "$default"
    assert reply["default"] == frame


EVIL_ORIGIN = {"Origin": "http://evil.example"}


def _request(gateway: LocalGateway, method: str, path: str, body: bytes = b"", **headers: str) -> tuple[int, bytes]:
    client = http.client.HTTPConnection("127.0.0.1", gateway.port)
    try:
        client.request(method, path, body=body, headers=headers)
        answer = client.getresponse()
        return answer.status, answer.read()
    finally:
        client.close()


def _rebinding(gateway: LocalGateway) -> dict[str, str]:
    return {"Host": f"evil.example:{gateway.port}"}


@pytest.mark.parametrize("hostile", ["origin", "host"])
def test_web_pages_cannot_install_faults(chat: LocalGateway, hostile: str) -> None:
    headers = EVIL_ORIGIN if hostile == "origin" else _rebinding(chat)
    status, _ = _request(chat, "POST", "/__local/faults", json.dumps({"rules": ["410@post"]}).encode(), **headers)
    assert status == 403
    status, body = _request(chat, "GET", "/__local/faults")
    assert status == 200
    assert json.loads(body)["rules"] == []


@pytest.mark.parametrize("hostile", ["origin", "host"])
def test_web_pages_cannot_invoke_functions(chat: LocalGateway, event_log: EventLog, hostile: str) -> None:
    headers = EVIL_ORIGIN if hostile == "origin" else _rebinding(chat)
    path = "/2015-03-31/functions/ScheduledFunction/invocations"
    before = len(event_log.entries("scheduled"))
    status, _ = _request(chat, "POST", path, b'{"from": "a web page"}', **headers)
    assert status == 403
    status, _ = _request(chat, "POST", path, b'{"from": "this machine"}')  # the control: it does leave a trace
    assert status == 200
    entries = event_log.entries("scheduled")[before:]
    assert [entry["event"] for entry in entries] == [{"from": "this machine"}]


@pytest.mark.parametrize("hostile", ["origin", "host"])
async def test_web_pages_cannot_post_to_connections(chat: LocalGateway, hostile: str) -> None:
    headers = EVIL_ORIGIN if hostile == "origin" else _rebinding(chat)
    async with websockets.connect(chat.ws_url) as ws:
        path = f"/{chat.stage}/@connections/{await connection_id_of(ws)}"
        status, _ = await asyncio.to_thread(_request, chat, "POST", path, b"injected", **headers)
        assert status == 403
        status, _ = await asyncio.to_thread(_request, chat, "POST", path, b"sentinel")
        assert status == 200
        assert await asyncio.wait_for(ws.recv(), 10) == "sentinel"  # the injected frame never came first


def test_loopback_names_keep_working(chat: LocalGateway) -> None:
    for host in (f"localhost:{chat.port}", f"127.0.0.1:{chat.port}", f"[::1]:{chat.port}", "localhost"):
        status, _ = _request(chat, "GET", "/__local/health", Host=host)
        assert status == 200, host


def test_allow_host_admits_a_named_host() -> None:
    args = ["--redis", "off", "--schedules", "off", "--allow-host", "gateway.internal"]
    with LocalGateway(CHAT, env={"REDIS_URL": None}, args=args) as gateway:
        assert _request(gateway, "GET", "/__local/health", Host="gateway.internal:3105")[0] == 200
        assert _request(gateway, "GET", "/__local/health", Host="other.internal")[0] == 403


@pytest.fixture(scope="module")
def impatient() -> Iterator[LocalGateway]:
    args = ["--redis", "off", "--schedules", "off", "--header-timeout", "0.5", "--http-idle-timeout", "1"]
    with LocalGateway(CHAT, env={"REDIS_URL": None}, args=args) as gateway:
        yield gateway


def _closed_by_gateway(sock: socket.socket) -> bytes:
    """Everything the gateway sends until it closes the connection (bounded: never waits more than 10 s)."""
    sock.settimeout(10)
    received = b""
    while chunk := sock.recv(4096):
        received += chunk
    return received


@pytest.mark.parametrize(
    "trickle", [b"", b"POST /test/@connections/x HTTP/1.1\r\nHost: loc"], ids=["silent", "slow-head"]
)
def test_a_client_that_never_finishes_its_request_is_closed(impatient: LocalGateway, trickle: bytes) -> None:
    with socket.create_connection(("127.0.0.1", impatient.port)) as sock:
        sock.sendall(trickle)
        assert _closed_by_gateway(sock) == b""


async def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(impatient: LocalGateway) -> None:
    async with websockets.connect(impatient.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        request = f"POST /{impatient.stage}/@connections/{connection_id} HTTP/1.1\r\nHost: localhost\r\n"
        with socket.create_connection(("127.0.0.1", impatient.port)) as sock:
            sock.sendall(request.encode() + b"Content-Length: 2\r\n\r\nhi")
            answer = await asyncio.to_thread(_closed_by_gateway, sock)  # answered, then closed once idle
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
        assert await ws.recv() == "hi"


def test_nothing_a_client_or_function_sends_can_forge_log_lines_or_drive_the_terminal() -> None:
    args = ["--redis", "off", "--schedules", "off"]
    with LocalGateway(APPS / "lambda" / "template.yaml", env={"REDIS_URL": None}, args=args) as gateway:
        message = "bad\r\nFORGED LINE\x1b[31m"
        for op in ("raise", "print"):
            body = json.dumps({"op": op, "message": message, "text": message}).encode()
            _request(gateway, "POST", "/2015-03-31/functions/ProbeFunction/invocations", body)
        gateway.wait_for_log(r"INVOKE +ProbeFunction \(RequestResponse\) -> ok")
        assert "\x1b" not in gateway.logs
        assert not any(line.startswith("FORGED") for line in gateway.log_lines)
        assert any("ValueError: bad\\r\\nFORGED LINE\\x1b[31m" in line for line in gateway.log_lines)


@pytest.mark.parametrize("path", ["/{stage}", "/%74{tail}"], ids=["plain", "percent-encoded"])  # two code paths
async def test_a_client_that_stops_reading_is_dropped_and_holds_up_no_one(
    chat: LocalGateway, event_log: EventLog, path: str
) -> None:
    readers = [await websockets.connect(chat.ws_url, max_size=None) for _ in range(20)]
    stalled = RawWebSocket(chat.base_url.replace("http", "ws") + path.format(stage=chat.stage, tail=chat.stage[1:]))
    try:
        reader_ids = [await connection_id_of(ws) for ws in readers]
        stalled.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.send_frame(TEXT, b'{"action": "echo"}')
        stalled_id = json.loads(stalled.recv_frame()[1])["event"]["requestContext"]["connectionId"]
        # From here on the stalled client reads nothing. Every event goes to all 21; its posts never block, and
        # once what waits for it passes the gateway's bound it is dropped (1006) and its posts answer 410.
        chunk = b"x" * (100 * 1024)
        statuses: list[int] = []
        client = http.client.HTTPConnection("127.0.0.1", chat.port, timeout=10)  # a blocked post fails the test
        for n in range(200):
            event = str(n).encode() + chunk
            for cid in reader_ids:
                client.request("POST", f"/{chat.stage}/@connections/{cid}", body=event)
                response = client.getresponse()
                response.read()
                assert response.status == 200
            client.request("POST", f"/{chat.stage}/@connections/{stalled_id}", body=event)
            response = client.getresponse()
            response.read()
            statuses.append(response.status)
            for ws in readers:
                assert await asyncio.wait_for(ws.recv(), 10) == event.decode()
            if response.status == 410:
                break
        client.close()
        assert statuses[-1] == 410 and set(statuses[:-1]) == {200}
        await asyncio.to_thread(wait_disconnect, chat, stalled_id)
        (entry,) = event_log.entries("disconnect", stalled_id)
        assert entry["event"]["requestContext"]["disconnectStatusCode"] == 1006
    finally:
        stalled.close()
        await asyncio.gather(*(ws.close() for ws in readers))


@pytest.mark.parametrize("path", ["/{stage}", "/%74{tail}"], ids=["plain", "percent-encoded"])  # two code paths
def test_a_handshake_aborted_after_connect_succeeded_runs_disconnect(
    chat: LocalGateway, event_log: EventLog, tmp_path: Path, path: str
) -> None:
    fifo = hold_fifo(tmp_path)
    target = path.format(stage=chat.stage, tail=chat.stage[1:])
    handshake = (
        f"GET {target}?hold={fifo} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    mark = chat.mark()
    with socket.create_connection(("127.0.0.1", chat.port)) as sock:
        sock.sendall(handshake.encode())
        chat.wait_for_log(rf"\[OnConnectFunction\] holding {re.escape(str(fifo))}", since=mark)
    # The client is gone before $connect answers; then $connect admits it.
    assert _request(chat, "GET", "/__local/health")[0] == 200  # by now the gateway has taken the close in
    release(fifo)
    query = [(e, e["event"].get("queryStringParameters") or {}) for e in event_log.entries("connect")]
    (connect,) = [entry for entry, parameters in query if parameters.get("hold") == str(fifo)]
    connection_id = connect["event"]["requestContext"]["connectionId"]
    wait_disconnect(chat, connection_id)
    (entry,) = event_log.entries("disconnect", connection_id)
    assert entry["event"]["requestContext"]["disconnectStatusCode"] == 1006
