"""Fixtures for the local gateway's own tests: its own templates and handlers under tests/local/apps."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import websockets
from botocore.config import Config

from local.testing import LocalGateway

APPS = Path(__file__).parent / "apps"
CHAT = APPS / "chat" / "template.yaml"
MINIMAL = APPS / "minimal" / "template.yaml"


def management_client(endpoint: str, max_attempts: int | None = None) -> Any:
    """boto3's real client for the emulator's @connections; ``max_attempts=1`` turns botocore's retries off."""
    config = Config(retries={"total_max_attempts": max_attempts}) if max_attempts else None
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=config,
    )


class EventLog:
    """The JSON lines the chat app's handlers append (function tag + the event they received)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self, function: str | None = None, connection_id: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        found = []
        # The last piece is empty, or a line a handler is still writing.
        for line in self.path.read_text().split("\n")[:-1]:
            entry = json.loads(line)
            if function is not None and entry["function"] != function:
                continue
            context = entry["event"].get("requestContext") or {}
            if connection_id is not None and context.get("connectionId") != connection_id:
                continue
            found.append(entry)
        return found


@pytest.fixture(scope="session")
def event_log(tmp_path_factory: pytest.TempPathFactory) -> EventLog:
    return EventLog(tmp_path_factory.mktemp("chat") / "events.jsonl")


@pytest.fixture(scope="session")
def chat(event_log: EventLog) -> Iterator[LocalGateway]:
    """The chat app's gateway, shared by the tests that do not change its settings."""
    env = {"EVENT_LOG": str(event_log.path), "REDIS_URL": None, "UNDECLARED_VAR": "shell-only"}
    with LocalGateway(CHAT, env=env, args=["--redis", "off", "--schedules", "off"]) as gateway:
        yield gateway


@pytest.fixture(scope="session")
def mgmt(chat: LocalGateway) -> Any:
    return management_client(chat.management_endpoint)


async def echo(ws: websockets.ClientConnection, **payload: Any) -> dict[str, Any]:
    """Send to the chat app's two-way ``echo`` route and return its reply."""
    await ws.send(json.dumps({"action": "echo", **payload}))
    reply: dict[str, Any] = json.loads(await ws.recv())
    return reply


async def connection_id_of(ws: websockets.ClientConnection) -> str:
    reply = await echo(ws)
    connection_id: str = reply["event"]["requestContext"]["connectionId"]
    return connection_id


def hold_fifo(directory: Path, name: str = "hold") -> Path:
    """A named pipe a test function blocks on (``hold``) until :func:`release` writes to it: a slow function on
    demand, in whichever process it runs."""
    path = directory / name
    os.mkfifo(path)
    return path


def release(fifo: Path) -> None:
    with fifo.open("wb") as writer:
        writer.write(b"x")


def wait_disconnect(gateway: LocalGateway, connection_id: str, since: int = 0) -> None:
    gateway.wait_for_log(rf"DISCONNECT +{re.escape(connection_id)} ", since=since)


def assert_same_shape(actual: Any, expected: Any, path: str = "event", free: frozenset[str] = frozenset()) -> None:
    """Same keys (except under the free-form maps named in ``free``) and same JSON types, recursively."""
    assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        name = path.rsplit(".", 1)[-1]
        if name in free:
            sample = next(iter(expected.values()), None)
            for key, value in actual.items():
                assert isinstance(key, str)
                if sample is not None:
                    assert_same_shape(value, sample, f"{path}.{key}", free)
            return
        assert set(actual) == set(expected), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for key in expected:
            assert_same_shape(actual[key], expected[key], f"{path}.{key}", free)
    elif isinstance(expected, list) and expected:
        for index, item in enumerate(actual):
            assert_same_shape(item, expected[0], f"{path}[{index}]", free)
