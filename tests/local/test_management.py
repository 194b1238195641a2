"""The @connections management API, through boto3's real apigatewaymanagementapi client."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timezone
from typing import Any

import pytest
import websockets
from botocore.exceptions import ClientError

from local.testing import LocalGateway
from tests.local.conftest import EventLog, connection_id_of, wait_disconnect


async def test_post_to_connection_delivers_a_text_frame(chat: LocalGateway, mgmt: Any) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        answer = mgmt.post_to_connection(ConnectionId=connection_id, Data=b'{"event": "x"}')
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        frame = await ws.recv()
    assert isinstance(frame, str)
    assert json.loads(frame) == {"event": "x"}


async def test_get_connection_answers_connected_at_identity_last_active(chat: LocalGateway, mgmt: Any) -> None:
    async with websockets.connect(chat.ws_url, user_agent_header="agent/9") as ws:
        connection_id = await connection_id_of(ws)
        info = mgmt.get_connection(ConnectionId=connection_id)
    assert info["Identity"] == {"SourceIp": "127.0.0.1", "UserAgent": "agent/9"}
    assert isinstance(info["ConnectedAt"], datetime)
    assert info["ConnectedAt"] <= info["LastActiveAt"] <= datetime.now(timezone.utc)


async def test_last_active_follows_client_messages(chat: LocalGateway, mgmt: Any) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        first = mgmt.get_connection(ConnectionId=connection_id)["LastActiveAt"]
        await connection_id_of(ws)
        second = mgmt.get_connection(ConnectionId=connection_id)["LastActiveAt"]
    assert second > first


async def test_delete_connection_closes_and_runs_disconnect(chat: LocalGateway, mgmt: Any, event_log: EventLog) -> None:
    mark = chat.mark()
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        answer = mgmt.delete_connection(ConnectionId=connection_id)
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    wait_disconnect(chat, connection_id, since=mark)
    (entry,) = event_log.entries("disconnect", connection_id)
    assert entry["event"]["requestContext"]["eventType"] == "DISCONNECT"
    with pytest.raises(mgmt.exceptions.GoneException):
        mgmt.get_connection(ConnectionId=connection_id)


@pytest.mark.parametrize("operation", ["post", "get", "delete"])
def test_unknown_connection_is_gone(mgmt: Any, operation: str) -> None:
    with pytest.raises(mgmt.exceptions.GoneException) as gone:
        if operation == "post":
            mgmt.post_to_connection(ConnectionId="AAAAAAAAAAAAAAA=", Data=b"x")
        elif operation == "get":
            mgmt.get_connection(ConnectionId="AAAAAAAAAAAAAAA=")
        else:
            mgmt.delete_connection(ConnectionId="AAAAAAAAAAAAAAA=")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


async def test_closed_connection_is_gone(chat: LocalGateway, mgmt: Any) -> None:
    mark = chat.mark()
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
    wait_disconnect(chat, connection_id, since=mark)
    with pytest.raises(mgmt.exceptions.GoneException):
        mgmt.post_to_connection(ConnectionId=connection_id, Data=b"late")


def test_gone_answer_is_typed_by_header(chat: LocalGateway) -> None:
    request = urllib.request.Request(
        f"{chat.management_endpoint}/@connections/AAAAAAAAAAAAAAA%3D", data=b"x", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=10)
    assert answer.value.code == 410
    assert answer.value.headers["x-amzn-ErrorType"] == "GoneException"


async def test_post_above_128_kb_is_413(chat: LocalGateway, mgmt: Any) -> None:
    async with websockets.connect(chat.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        with pytest.raises(ClientError) as too_large:
            mgmt.post_to_connection(ConnectionId=connection_id, Data=b"x" * (128 * 1024 + 1))
        assert too_large.value.response["Error"]["Code"] == "PayloadTooLargeException"
        assert too_large.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
        mgmt.post_to_connection(ConnectionId=connection_id, Data=b"y" * (128 * 1024))
        assert len(await ws.recv()) == 128 * 1024
