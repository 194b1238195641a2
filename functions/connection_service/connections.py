"""Opening and closing connections: authenticate, check the origin, apply limits, register; undo on close."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .apigw import WebSocketEvent
from .auth import Identity, TokenVerifier
from .errors import Forbidden
from .registry import Registry
from .runtime import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    allowed: frozenset[str]
    allow_missing: bool

    def check(self, origin: str | None) -> None:
        """Raise :class:`Forbidden` for a browser origin not allowed (cross-site WebSocket hijacking)."""
        if origin is None:
            if not self.allow_missing:
                raise Forbidden("an Origin header is required")
            return
        if "*" in self.allowed or origin.rstrip("/") in self.allowed:
            return
        raise Forbidden("origin not allowed")


class ConnectionService:
    def __init__(self, registry: Registry, verifier: TokenVerifier, origins: OriginPolicy, clock: Clock) -> None:
        self._registry = registry
        self._verifier = verifier
        self._origins = origins
        self._clock = clock

    def connect(self, event: WebSocketEvent) -> Identity:
        """Admit a connection. Raises Unauthorized (401), Forbidden (403), RateLimited (429), or a Redis error."""
        identity = self._verifier.verify(event.bearer_token)
        self._origins.check(event.origin)
        self._registry.register(
            event.connection_id, identity.tenant_id, identity.user_id, event.source_ip, self._clock()
        )
        log.info("connected %s tenant=%s user=%s", event.connection_id, identity.tenant_id, identity.user_id)
        return identity

    def disconnect(self, connection_id: str) -> bool:
        """Forget the connection; idempotent."""
        return self._registry.unregister(connection_id)
