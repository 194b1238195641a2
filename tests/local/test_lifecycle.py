"""Starting and stopping: plain CloudFormation templates, Redis, graceful shutdown, the startup message."""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlparse

import pytest
import websockets

from local.testing import GatewayStartError, LocalGateway
from tests.local.conftest import CHAT, MINIMAL, EventLog, connection_id_of


def _listening(url: str) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname, parsed.port or 80), timeout=1):
            return True
    except OSError:
        return False


async def test_plain_template_without_connect_disconnect_default_and_embedded_redis() -> None:
    with LocalGateway(MINIMAL, env={"REDIS_URL": None}) as gateway:
        assert gateway.stage == "v1"
        assert "embedded redis-server started by the gateway" in gateway.logs
        assert "backed: Queue (AWS::SQS::Queue) Queue" in gateway.logs
        async with websockets.connect(gateway.ws_url) as ws:
            await ws.send(json.dumps({"kind": "ping"}))
            assert await ws.recv() == "pong"
            await ws.send(json.dumps({"kind": "info"}))
            info = json.loads(await ws.recv())
            assert info["pong"] == "+PONG"
            assert info["name"] == "minimal-ping"
            # No $default route: an unmatched message is answered Forbidden, the socket stays open.
            await ws.send(json.dumps({"kind": "other"}))
            forbidden = json.loads(await ws.recv())
            assert forbidden["message"] == "Forbidden"
            assert set(forbidden) == {"message", "connectionId", "requestId"}
            await ws.send(json.dumps({"kind": "ping"}))
            assert await ws.recv() == "pong"
    assert not _listening(info["redis"])


def test_redis_url_from_the_environment_is_used(redis_url: str) -> None:
    with LocalGateway(MINIMAL, env={"REDIS_URL": redis_url}) as gateway:
        assert "REDIS_URL from the environment" in gateway.logs
        assert "embedded" not in gateway.logs


async def test_stop_closes_sockets_and_runs_disconnect(tmp_path: object, event_log: EventLog) -> None:
    log = EventLog(event_log.path.parent / "stop.jsonl")
    env = {"EVENT_LOG": str(log.path), "REDIS_URL": None}
    gateway = LocalGateway(CHAT, env=env, args=["--redis", "off", "--schedules", "off"]).start()
    try:
        async with websockets.connect(gateway.ws_url) as ws:
            connection_id = await connection_id_of(ws)
            # In a thread: the client must answer the gateway's close frame while the gateway stops.
            assert await asyncio.to_thread(gateway.stop) == 0
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    finally:
        gateway.stop()
    (entry,) = log.entries("disconnect", connection_id)
    context = entry["event"]["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


def test_a_broken_template_fails_to_start_with_a_message(tmp_path: object) -> None:
    from pathlib import Path

    broken = Path(str(tmp_path)) / "broken.yaml"
    broken.write_text("Resources: 3\n")
    with pytest.raises(GatewayStartError, match="not a CloudFormation/SAM template"):
        LocalGateway(broken, startup_timeout=30).start()
