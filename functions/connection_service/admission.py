"""Opening and closing connections: check the origin, authenticate, apply limits, register; undo on close."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from .errors import Forbidden
from .registry import Registry
from .tokens import Identity, TokenVerifier
from .websocket_event import WebSocketEvent

if TYPE_CHECKING:
    from .shared_types import Clock  # annotations only: the connect function's cold import stays light

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normalize_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case, without a trailing slash or a default port.

    Browsers send exactly that; a configured value may carry a different case, a trailing slash or ``:443``.
    The opaque origin ``null`` (sandboxed iframes, ``file:`` pages) stays ``null``; a value that is not a bare
    origin (userinfo, path, query) is returned lower-cased and stripped, and so matches no real origin.
    """
    value = origin.strip().rstrip("/").lower()
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return value
    if not parts.scheme or not parts.hostname or "@" in parts.netloc or parts.path or parts.query or parts.fragment:
        return value  # not an origin a browser sends: matches nothing but the identical configured string
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    """Which browser origins may open a connection (cross-site WebSocket hijacking is refused with 403).

    ``*`` allows any origin (development) except the opaque ``null``, which must be listed explicitly: any page
    can produce it from a sandboxed iframe. A request without ``Origin`` comes from a non-browser client and is
    allowed when ``allow_missing`` is set.
    """

    allowed: frozenset[str]
    allow_missing: bool

    @classmethod
    def of(cls, origins: Iterable[str], allow_missing: bool) -> OriginPolicy:
        return cls(frozenset(normalize_origin(o) for o in origins if o.strip()), allow_missing)

    def check(self, origin: str | None) -> None:
        """Raise :class:`Forbidden` for a browser origin not allowed."""
        if origin is None or not origin.strip():
            if not self.allow_missing:
                raise Forbidden("an Origin header is required")
            return
        normalized = normalize_origin(origin)
        if normalized in self.allowed or ("*" in self.allowed and normalized != "null"):
            return
        raise Forbidden("origin not allowed")


class TokenConfirmer(Protocol):
    """A second opinion on a locally valid token (ts-auth-service in ``AUTH_MODE=remote``)."""

    def confirm(self, token: str, identity: Identity) -> None: ...


class ConnectionService:
    def __init__(
        self,
        registry: Registry,
        verifier: TokenVerifier,
        origins: OriginPolicy,
        clock: Clock,
        remote: TokenConfirmer | None = None,
    ) -> None:
        self._registry = registry
        self._verifier = verifier
        self._origins = origins
        self._clock = clock
        self._remote = remote

    def connect(self, event: WebSocketEvent) -> Identity:
        """Admit a connection. Raises Forbidden (403), Unauthorized (401), RateLimited (429), or a Redis error;
        in remote mode also AuthServiceUnavailable (503).

        The origin is checked first (cheapest, and a hijacking attempt never reaches a key fetch or
        ts-auth-service), then the signature locally, then — only for a token that passed — the remote check.
        """
        self._origins.check(event.origin)
        token = event.bearer_token
        identity = self._verifier.verify(token)
        if self._remote is not None and token is not None:
            self._remote.confirm(token, identity)
        self._registry.register(
            event.connection_id, identity.tenant_id, identity.user_id, event.source_ip, self._clock()
        )
        log.info("connected %s tenant=%s user=%s", event.connection_id, identity.tenant_id, identity.user_id)
        return identity
