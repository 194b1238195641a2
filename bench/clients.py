"""Dashboard clients of the two targets, behind one interface so that each scenario is written once.

A :class:`Client` connects with a token and returns once the server said ``authenticated``; iterating it yields
every later event as a dict ``{"event": name, ...}`` (``id``, ``tenantId``, ``data`` as the server sent them);
``close()`` ends it.

* :class:`ApiGatewayClient`: this service's JSON protocol (token in the query string, ``hello`` action).
* :class:`SocketIOClient`: Socket.IO v5 over Engine.IO v4, websocket transport only (a python-socketio stack's
  dashboards): ``0{...}`` open, ``40{"token": ...}`` connect, ``42["event", {...}]`` events, pings ``2`` → ``3``.
"""

from __future__ import annotations

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .common import connect


class Client(ABC):
    """One dashboard connection."""

    ws: ClientConnection | None = None

    @abstractmethod
    async def connect(self, token: str, timeout: float = 30.0) -> None:
        """Open the connection; return once the server sent ``authenticated`` (raise if it refused)."""

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        """Every event after ``authenticated``, until the connection closes."""

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()


class ApiGatewayClient(Client):
    """This service behind API Gateway (or ``python -m local``): ``wss://…/stage?token=``, then ``hello``."""

    def __init__(self, ws_url: str) -> None:
        self.url = ws_url

    async def connect(self, token: str, timeout: float = 30.0) -> None:
        self.ws = await connect(self.url, token, hello=True, timeout=timeout)

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                if isinstance(frame, dict):
                    yield frame
        except ConnectionClosed:
            return


class SocketIOClient(Client):
    """Socket.IO v5 / Engine.IO v4 on the websocket transport, default namespace, ``auth: {"token": …}``."""

    def __init__(self, base_url: str) -> None:
        self.url = base_url.replace("http", "ws", 1).rstrip("/") + "/socket.io/?EIO=4&transport=websocket"

    async def connect(self, token: str, timeout: float = 30.0) -> None:
        self.ws = await websockets.connect(
            self.url, compression=None, ping_interval=None, open_timeout=timeout, max_queue=None
        )
        try:
            await asyncio.wait_for(self._handshake(token), timeout)
        except BaseException:
            await self.ws.close()
            raise

    async def _handshake(self, token: str) -> None:
        assert self.ws is not None
        opening = await self.ws.recv()
        if not isinstance(opening, str) or not opening.startswith("0"):
            raise RuntimeError(f"expected an Engine.IO open packet, got {opening!r:.200}")
        await self.ws.send("40" + json.dumps({"token": token}))
        while (packet := await self._packet()) is not None:
            if packet[:1] in ("4", "1"):  # CONNECT_ERROR, or DISCONNECT right after the CONNECT ack
                raise RuntimeError(f"Socket.IO connect refused: 4{packet[:200]}")
            if packet[:1] == "2" and self._event(packet[1:]).get("event") == "authenticated":
                return
        raise ConnectionError("closed before authenticated")

    async def _packet(self) -> str | None:
        """The next Socket.IO packet (Engine.IO message ``4`` stripped), pings answered; ``None`` once closed."""
        assert self.ws is not None
        try:
            while True:
                raw = await self.ws.recv()
                if not isinstance(raw, str) or not raw:
                    continue
                if raw == "2":
                    await self.ws.send("3")
                elif raw[0] == "4":
                    return raw[1:]
                elif raw[0] == "1":
                    return None
        except ConnectionClosed:
            return None

    @staticmethod
    def _event(body: str) -> dict[str, Any]:
        """``["name", payload]`` (an ack id, digits, may precede it) → ``{"event": name, **payload}``."""
        parsed = json.loads(body.lstrip("0123456789"))
        if not isinstance(parsed, list) or not parsed or not isinstance(parsed[0], str):
            return {}
        payload = parsed[1] if len(parsed) > 1 and isinstance(parsed[1], dict) else {}
        return {**payload, "event": parsed[0]}

    async def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        while (packet := await self._packet()) is not None:
            if packet.startswith("2"):
                yield self._event(packet[1:])
            elif packet.startswith("1"):  # Socket.IO disconnect of the namespace
                return
