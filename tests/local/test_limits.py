"""API Gateway's limits: frame and message size, binary frames, idle and maximum duration, connection quota,
integration timeout. Sizes are tested at AWS's defaults; durations through the flags that shorten them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from local.testing import LocalGateway
from tests.local.conftest import CHAT, EventLog, connection_id_of, echo, hold_fifo, release, wait_disconnect
from tests.local.rawws import BINARY, CONTINUATION, TEXT, RawWebSocket

KB = 1024


def _closed_with(url: str, frames: list[tuple[int, bytes, bool]]) -> int:
    raw = RawWebSocket(url)
    try:
        assert raw.status == 101
        for opcode, payload, fin in frames:
            raw.send_frame(opcode, payload, fin)
        return raw.recv_close_code()
    finally:
        raw.close()


def _echo_frame(size: int) -> bytes:
    prefix = b'{"action": "echo", "data": "'
    return prefix + b"x" * (size - len(prefix) - 2) + b'"}'


def test_frame_at_32_kb_passes(chat: LocalGateway) -> None:
    raw = RawWebSocket(chat.ws_url)
    try:
        raw.send_frame(TEXT, _echo_frame(32 * KB))
        _, reply = raw.recv_frame()
        assert len(json.loads(reply)["echo"]) == 32 * KB - 30
    finally:
        raw.close()


def test_frame_over_32_kb_closes_with_1009(chat: LocalGateway) -> None:
    assert _closed_with(chat.ws_url, [(TEXT, _echo_frame(32 * KB + 1), True)]) == 1009


def test_fragmented_message_up_to_128_kb_passes(chat: LocalGateway) -> None:
    message = _echo_frame(128 * KB)
    chunks = [message[i : i + 32 * KB] for i in range(0, len(message), 32 * KB)]
    raw = RawWebSocket(chat.ws_url)
    try:
        for index, chunk in enumerate(chunks):
            raw.send_frame(TEXT if index == 0 else CONTINUATION, chunk, index == len(chunks) - 1)
        _, reply = raw.recv_frame()
        assert json.loads(reply)["event"]["body"] == message.decode()
    finally:
        raw.close()


def test_message_over_128_kb_closes_with_1009(chat: LocalGateway) -> None:
    message = _echo_frame(128 * KB + 1)
    chunks = [message[i : i + 32 * KB] for i in range(0, len(message), 32 * KB)]
    frames = [(TEXT if i == 0 else CONTINUATION, c, i == len(chunks) - 1) for i, c in enumerate(chunks)]
    assert _closed_with(chat.ws_url, frames) == 1009


def test_binary_frame_closes_with_1003(chat: LocalGateway, event_log: EventLog) -> None:
    raw = RawWebSocket(chat.ws_url)
    try:
        raw.send_frame(TEXT, b'{"action": "echo"}')
        _, reply = raw.recv_frame()
        connection_id = json.loads(reply)["event"]["requestContext"]["connectionId"]
        raw.send_frame(BINARY, b"\x00\x01")
        assert raw.recv_close_code() == 1003
    finally:
        raw.close()
    wait_disconnect(chat, connection_id)
    (entry,) = event_log.entries("disconnect", connection_id)
    assert entry["event"]["requestContext"]["disconnectStatusCode"] == 1003


@pytest.fixture(scope="module")
def short_lived(event_log: EventLog) -> Iterator[LocalGateway]:
    env = {"EVENT_LOG": str(event_log.path), "REDIS_URL": None}
    # The idle timeout counts from the message, the integration timeout from the invocation: the idle one is the
    # longer, or it could close the connection before the timed-out message is answered.
    args = ["--redis", "off", "--schedules", "off", "--idle-timeout", "2", "--integration-timeout", "0.5"]
    with LocalGateway(CHAT, env=env, args=args) as gateway:
        yield gateway


async def test_idle_connection_is_closed_1001_and_disconnect_runs(
    short_lived: LocalGateway, event_log: EventLog
) -> None:
    async with websockets.connect(short_lived.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    wait_disconnect(short_lived, connection_id)
    (entry,) = event_log.entries("disconnect", connection_id)
    assert entry["event"]["requestContext"]["disconnectStatusCode"] == 1001
    short_lived.wait_for_log(rf"LIMIT +{connection_id} idle timeout")


async def test_integration_timeout_sends_endpoint_request_timed_out(short_lived: LocalGateway, tmp_path: Path) -> None:
    fifo = hold_fifo(tmp_path)
    async with websockets.connect(short_lived.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        await ws.send(json.dumps({"action": "echo", "hold": str(fifo)}))
        reply = json.loads(await ws.recv())
    release(fifo)
    assert reply["message"] == "Endpoint request timed out"
    assert reply["connectionId"] == connection_id


async def test_connect_timeout_is_502(short_lived: LocalGateway, tmp_path: Path) -> None:
    fifo = hold_fifo(tmp_path)
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(f"{short_lived.ws_url}?hold={fifo}"):
            pass
    release(fifo)
    assert refused.value.response.status_code == 502


async def test_maximum_duration_closes_an_active_connection() -> None:
    args = ["--redis", "off", "--schedules", "off", "--max-duration", "0.5"]
    with LocalGateway(CHAT, env={"REDIS_URL": None}, args=args) as gateway:
        async with websockets.connect(gateway.ws_url) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:  # stay active: only the maximum duration can close it
                    await echo(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
        gateway.wait_for_log("maximum connection duration reached")  # logged just before the close frame


async def test_new_connections_beyond_the_quota_are_refused_429() -> None:
    args = ["--redis", "off", "--schedules", "off", "--connect-rate", "0.001"]
    with LocalGateway(CHAT, env={"REDIS_URL": None}, args=args) as gateway:
        async with websockets.connect(gateway.ws_url) as ws:
            with pytest.raises(InvalidStatus) as refused:
                async with websockets.connect(gateway.ws_url):
                    pass
            assert refused.value.response.status_code == 429
            await echo(ws)
