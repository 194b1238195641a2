"""``$connect``: check the origin, verify the token, check limits, register the connection."""

from __future__ import annotations

import functools
from typing import Any

from . import wiring
from .admission import ConnectionService, OriginPolicy, TokenConfirmer
from .errors import as_service_error
from .observe import metrics, observed
from .responses import failure_of, ok
from .websocket_event import WebSocketEvent

wiring.start("jwt_secret")


@functools.lru_cache(maxsize=1)
def service() -> ConnectionService:
    rt = wiring.current()
    settings = rt.settings
    origins = OriginPolicy.of(settings.allowed_origins, settings.allow_missing_origin)
    remote: TokenConfirmer | None = None
    if settings.auth_mode == "remote":
        from .auth_service_client import RemoteValidator  # httpx only in remote mode: keeps the cold import light

        remote = RemoteValidator.from_settings(settings)
    return ConnectionService(rt.registry, rt.verifier, origins, rt.clock, remote)


@observed("$connect")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        service().connect(WebSocketEvent(event))
    except Exception as exc:
        error = as_service_error(exc)
        metrics().count("ConnectsRefused", Reason=error.code)
        return failure_of(error)
    metrics().count("Connects")
    return ok()
