"""Per-connection state, kept small (``__slots__``): 10,000 idle connections must stay cheap."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from aiohttp import WSMsgType, web

from local.event_payloads import Peer


class IllegalTransition(RuntimeError):
    """A state change the lifecycle does not allow: a bug in the gateway, never a client's doing."""


State = TypeVar("State", bound=enum.Enum)


def checked_move(moves: Mapping[State, frozenset[State]], current: State, new: State) -> State:
    """``new``, if ``moves`` leads there from ``current``; else :class:`IllegalTransition`."""
    if new not in moves[current]:
        raise IllegalTransition(f"{type(current).__name__} {current.name} -> {new.name}")
    return new


class ConnectionState(enum.IntEnum):
    """A connection's lifecycle: ``CONNECTING`` while ``$connect`` runs, then ``OPEN``, and ``CLOSED`` for good."""

    CONNECTING = 0
    OPEN = 1
    CLOSED = 2


_CONNECTION_MOVES = {
    ConnectionState.CONNECTING: frozenset({ConnectionState.OPEN, ConnectionState.CLOSED}),
    ConnectionState.OPEN: frozenset({ConnectionState.CLOSED}),
    ConnectionState.CLOSED: frozenset({ConnectionState.CLOSED}),  # closing again (the client and the gateway both)
}


OUTBOUND_LIMIT = 1024 * 1024
"""Bytes that may wait for a client beyond the kernel's buffers before it is dropped."""


class Connection:
    """A client's connection as the gateway tracks it, served by aiohttp's WebSocket response (``ws``).

    :meth:`send`, :meth:`close` and :meth:`abort` act on the client's socket whoever serves it (see
    ``local.websocket.Socket`` for connections the gateway serves itself).
    """

    __slots__ = ("_state", "authorizer", "close_info", "last_active", "peer", "transport", "ws")

    def __init__(self, peer: Peer, authorizer: dict[str, Any] | None = None) -> None:
        self.peer = peer
        self.ws: web.WebSocketResponse | None = None
        self.transport: asyncio.Transport | None = None
        self._state = ConnectionState.CONNECTING
        self.last_active = peer.connected_at
        self.authorizer = authorizer
        self.close_info: tuple[int, str] | None = None
        """(code, reason) for ``$disconnect`` when the gateway closed the connection itself."""

    @property
    def id(self) -> str:
        return self.peer.connection_id

    @property
    def state(self) -> ConnectionState:
        return self._state

    def enter(self, state: ConnectionState) -> None:
        """Move to ``state``; :class:`IllegalTransition` if the lifecycle does not lead there."""
        self._state = checked_move(_CONNECTION_MOVES, self._state, state)

    async def send(self, data: bytes) -> bool:
        """Send a text frame; False when the connection can no longer take one (PostToConnection's 410)."""
        ws = self.ws
        if self._state is not ConnectionState.OPEN or ws is None or ws.closed:
            return False
        if self.drop_if_not_reading():
            return False
        try:
            await ws.send_frame(data, WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame and wait for the client's (or the closing timeout)."""
        ws = self.ws
        if ws is not None and not ws.closed:
            await ws.close(code=code, message=reason.encode())

    def drop_if_not_reading(self) -> bool:
        """Drop a client that stopped reading (1006), as API Gateway drops it, once more than ``OUTBOUND_LIMIT``
        waits for it: PostToConnection never waits on one client's buffer."""
        transport = self.transport
        if transport is None or transport.get_write_buffer_size() <= OUTBOUND_LIMIT:
            return False
        self.close_info = (1006, "client not reading: outbound buffer full")
        self.abort()
        return True

    def abort(self) -> None:
        """Drop the TCP connection without a close frame: the client sees 1006."""
        if self.transport is not None:
            self.transport.abort()


class ConnectionTable(dict[str, Connection]):
    """Live connections by id (including those whose ``$connect`` is still running)."""
