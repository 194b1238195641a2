"""Hostile clients against the real gateway: floods, oversize and unicode-heavy frames. Nothing crashes, every
frame gets its answer, limits hold."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import websockets
from websockets.exceptions import ConnectionClosed, InvalidStatus

from local.testing import LocalGateway
from tests.e2e.conftest import ROOT, SECRET, SERVICE_KEY


@pytest.fixture(scope="module")
def strict_gateway(redis_url: str) -> Iterator[LocalGateway]:
    """A gateway whose functions have tight limits (a second process; the shared one keeps the defaults)."""
    env: dict[str, str | None] = {
        "REDIS_URL": redis_url,
        "JWT_SECRET": SECRET,
        "INTERNAL_SERVICE_KEY": SERVICE_KEY,
        "MESSAGE_RATE_LIMIT_PER_SECOND": "0.01",
        "MESSAGE_RATE_LIMIT_BURST": "3",
        "CONNECT_RATE_LIMIT_PER_MINUTE": "4",
        "MAX_CONNECTIONS_PER_USER": "100",
    }
    with LocalGateway(ROOT / "template.yaml", env=env, cwd=ROOT, args=["--schedules", "off"]) as gw:
        yield gw


async def test_a_message_flood_is_rate_limited_then_closed(
    strict_gateway: LocalGateway, token: Callable[..., str], tenant: str
) -> None:
    socket = await websockets.connect(f"{strict_gateway.ws_url}?token={token(tenant)}")
    replies: list[dict[str, Any]] = []
    with pytest.raises(ConnectionClosed):
        for i in range(200):
            await socket.send(json.dumps({"action": "ping", "requestId": str(i)}))
            replies.append(json.loads(await socket.recv()))

    assert [r["event"] for r in replies[:3]] == ["pong"] * 3
    assert {r["data"]["code"] for r in replies[3:]} == {"rate_limited"}
    assert [r["requestId"] for r in replies] == [str(i) for i in range(len(replies))]
    assert len(replies) < 200


async def test_a_connect_flood_is_refused_with_429(
    strict_gateway: LocalGateway, token: Callable[..., str], tenant: str
) -> None:
    statuses = []
    opened = []
    for _ in range(6):
        try:
            opened.append(await websockets.connect(f"{strict_gateway.ws_url}?token={token(tenant, 'same-user')}"))
            statuses.append(101)
        except InvalidStatus as refused:
            statuses.append(refused.response.status_code)
    for socket in opened:
        await socket.close()

    assert statuses == [101, 101, 101, 101, 429, 429]


async def test_unicode_heavy_and_oversize_fields_get_clear_errors(dashboards: Callable[..., Any], tenant: str) -> None:
    dashboard = await dashboards(tenant)
    heavy = "🙂ñ中" * 1000  # 3,000 characters: ~24 KB as JSON escapes, under the 32 KB frame limit

    await dashboard.send("subscribe_conversation", {"conversationId": heavy}, request_id="u1")
    reply = await dashboard.receive()
    await dashboard.send("subscribe_conversation", {"conversationId": "conv-ñ-🙂"}, request_id="u2")
    accepted = await dashboard.receive()

    assert reply["event"] == "error" and reply["data"]["code"] == "bad_request" and reply["requestId"] == "u1"
    assert accepted["event"] == "ack" and accepted["data"]["conversationId"] == "conv-ñ-🙂"


async def test_a_frame_over_api_gateways_limit_closes_only_that_socket(
    dashboards: Callable[..., Any], tenant: str
) -> None:
    victim = await dashboards(tenant, "user-1")
    bystander = await dashboards(tenant, "user-2")

    await victim.socket.send(json.dumps({"action": "ping", "data": {"pad": "x" * 40_000}}))
    with pytest.raises(ConnectionClosed) as closed:
        await victim.receive()

    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert (await bystander.request("ping"))["event"] == "pong"
