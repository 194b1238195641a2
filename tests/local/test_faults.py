"""Fault injection on @connections: off by default; flags and the admin endpoint turn it on."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import websockets
from botocore.exceptions import ClientError

from local.testing import LocalGateway
from tests.local.conftest import CHAT, EventLog, connection_id_of, management_client, wait_disconnect


def _client(endpoint: str) -> Any:
    return management_client(endpoint, max_attempts=1)


def _admin(gateway: LocalGateway, method: str, rules: list[str] | None = None) -> dict[str, Any]:
    data = json.dumps({"rules": rules}).encode() if rules is not None else None
    request = urllib.request.Request(f"{gateway.base_url}/__local/faults", data=data, method=method)
    answer: dict[str, Any] = json.loads(urllib.request.urlopen(request, timeout=10).read())
    return answer


@pytest.fixture(scope="module")
def faulty(event_log: EventLog) -> Iterator[LocalGateway]:
    env = {"EVENT_LOG": str(event_log.path), "REDIS_URL": None}
    args = ["--redis", "off", "--schedules", "off", "--fault", "429@post#1"]
    with LocalGateway(CHAT, env=env, args=args) as gateway:
        yield gateway


def test_faults_are_off_by_default(chat: LocalGateway) -> None:
    assert _admin(chat, "GET") == {"rules": []}
    assert "FAULT INJECTION" not in chat.logs


async def test_flag_rule_answers_429_once(faulty: LocalGateway) -> None:
    assert "FAULT INJECTION ON" in faulty.logs
    client = _client(faulty.management_endpoint)
    async with websockets.connect(faulty.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        with pytest.raises(ClientError) as limited:
            client.post_to_connection(ConnectionId=connection_id, Data=b"first")
        assert limited.value.response["Error"]["Code"] == "LimitExceededException"
        assert limited.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        client.post_to_connection(ConnectionId=connection_id, Data=b"second")
        assert await ws.recv() == "second"


async def test_admin_rules_410_and_500_then_clear(faulty: LocalGateway) -> None:
    client = _client(faulty.management_endpoint)
    async with websockets.connect(faulty.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        _admin(faulty, "POST", ["410@post", "500@get"])
        with pytest.raises(client.exceptions.GoneException):
            client.post_to_connection(ConnectionId=connection_id, Data=b"x")
        with pytest.raises(ClientError) as failed:
            client.get_connection(ConnectionId=connection_id)
        assert failed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert _admin(faulty, "DELETE") == {"rules": []}
        client.post_to_connection(ConnectionId=connection_id, Data=b"ok")
        assert await ws.recv() == "ok"


async def test_drop_closes_the_socket_abnormally(faulty: LocalGateway, event_log: EventLog) -> None:
    client = _client(faulty.management_endpoint)
    mark = faulty.mark()
    async with websockets.connect(faulty.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        _admin(faulty, "POST", ["drop@post#1"])
        with pytest.raises(client.exceptions.GoneException):
            client.post_to_connection(ConnectionId=connection_id, Data=b"x")
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is None  # no close frame: the connection was dropped
    wait_disconnect(faulty, connection_id, since=mark)
    (entry,) = event_log.entries("disconnect", connection_id)
    assert entry["event"]["requestContext"]["disconnectStatusCode"] == 1006


async def test_latency_rule_is_consumed_by_its_calls(faulty: LocalGateway) -> None:
    client = _client(faulty.management_endpoint)
    async with websockets.connect(faulty.ws_url) as ws:
        connection_id = await connection_id_of(ws)
        rules = _admin(faulty, "POST", ["latency:50@get#2"])["rules"]
        assert rules == [{"rule": "latency:50@get#2", "remaining": 2}]
        client.get_connection(ConnectionId=connection_id)
        assert _admin(faulty, "GET")["rules"] == [{"rule": "latency:50@get#2", "remaining": 1}]
        client.get_connection(ConnectionId=connection_id)
        assert _admin(faulty, "GET")["rules"] == []


def test_bad_rule_is_rejected(faulty: LocalGateway) -> None:
    request = urllib.request.Request(
        f"{faulty.base_url}/__local/faults", data=json.dumps({"rules": ["teapot@post"]}).encode(), method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as bad:
        urllib.request.urlopen(request, timeout=10)
    assert bad.value.code == 400
