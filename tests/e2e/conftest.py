"""End-to-end fixtures: this repo's template served by the real local gateway (``python -m local``, a
subprocess), real WebSocket clients, real HTTP, a real Redis (a single server, then a real Redis Cluster: every
test runs on both), and a stand-in as-call-service."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from connection_service.tokens import issue_token
from local.testing import LocalGateway
from tests.support.call_service import CallServiceStub
from tests.support.redis_backends import RedisBackend

ROOT = Path(__file__).resolve().parents[2]
SECRET = "e2e-test-secret-0123456789abcdef0123456789"
SERVICE_KEY = "e2e-test-internal-service-key"


@pytest.fixture(scope="session")
def call_service() -> Iterator[CallServiceStub]:
    with CallServiceStub() as stub:
        yield stub


@pytest.fixture(scope="session")
def gateway(redis_backend: RedisBackend, call_service: CallServiceStub) -> Iterator[LocalGateway]:
    env: dict[str, str | None] = {
        **redis_backend.environment(),
        "JWT_SECRET": SECRET,
        "INTERNAL_SERVICE_KEY": SERVICE_KEY,
        "AS_CALL_SERVICE_URL": call_service.url,
        "ALLOWED_ORIGINS": "http://localhost:3000",
        "UPSTREAM_TIMEOUT_S": "2",
    }
    with LocalGateway(ROOT / "template.yaml", env=env, cwd=ROOT, args=["--schedules", "off"]) as gw:
        yield gw


@pytest.fixture
def tenant() -> str:
    """A fresh tenant per test, so tests sharing the gateway never see each other's events."""
    return f"tenant-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def token() -> Callable[..., str]:
    def make(tenant: str, user: str = "user-1", ttl: int = 3600) -> str:
        return issue_token(SECRET, tenant, user, ttl, time.time())

    return make


class Dashboard:
    """A dashboard's WebSocket: send actions, await frames."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket

    async def send(self, action: str, data: dict[str, Any] | None = None, request_id: str | None = None) -> None:
        frame: dict[str, Any] = {"action": action, "data": data or {}}
        if request_id is not None:
            frame["requestId"] = request_id
        await self.socket.send(json.dumps(frame))

    async def receive(self, timeout: float = 10.0) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.socket.recv(), timeout))
        return frame

    async def request(self, action: str, data: dict[str, Any] | None = None) -> dict[str, Any]:
        request_id = uuid.uuid4().hex
        await self.send(action, data, request_id)
        reply = await self.receive()
        assert reply.get("requestId") == request_id, reply
        return reply


@pytest.fixture
async def dashboards(gateway: LocalGateway, token: Callable[..., str]) -> AsyncIterator[Callable[..., Any]]:
    """Open dashboards with ``await open(tenant, user)``; all are closed at teardown."""
    opened: list[ClientConnection] = []

    async def open_dashboard(tenant: str, user: str = "user-1", hello: bool = True) -> Dashboard:
        socket = await websockets.connect(f"{gateway.ws_url}?token={token(tenant, user)}")
        opened.append(socket)
        dashboard = Dashboard(socket)
        if hello:
            reply = await dashboard.request("hello")
            assert reply["event"] == "authenticated"
        return dashboard

    yield open_dashboard
    for socket in opened:
        await socket.close()


@pytest.fixture
async def internal_api(gateway: LocalGateway) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=gateway.base_url, headers={"X-Internal-Service-Key": SERVICE_KEY}, timeout=30
    ) as client:
        yield client
