"""Hostile input to the local gateway: it answers as API Gateway would, and never goes silent."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from local.testing import LocalGateway

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
