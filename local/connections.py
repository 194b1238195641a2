"""Per-connection state, kept small (``__slots__``): 10,000 idle connections must stay cheap."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from local.events import Peer

CONNECTING = 0
OPEN = 1
CLOSED = 2


class Connection:
    __slots__ = ("authorizer", "close_info", "last_active", "peer", "state", "ws")

    def __init__(self, peer: Peer, authorizer: dict[str, Any] | None = None) -> None:
        self.peer = peer
        self.ws: web.WebSocketResponse | None = None
        self.state = CONNECTING
        self.last_active = peer.connected_at
        self.authorizer = authorizer
        self.close_info: tuple[int, str] | None = None
        """(code, reason) for ``$disconnect`` when the gateway closed the connection itself."""

    @property
    def id(self) -> str:
        return self.peer.connection_id


class Registry(dict[str, Connection]):
    """Live connections by id (including those whose ``$connect`` is still running)."""
