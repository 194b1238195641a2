"""``$disconnect``: remove everything the connection registered (idempotent; API Gateway sends it best-effort)."""

from __future__ import annotations

from typing import Any

from . import wiring
from .errors import as_service_error
from .observe import metrics, observed
from .responses import failure_of, ok
from .websocket_event import WebSocketEvent

wiring.start()


@observed("$disconnect")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        wiring.current().registry.unregister(WebSocketEvent(event).connection_id)
    except Exception as exc:
        error = as_service_error(exc)
        metrics().count("DisconnectsFailed", Reason=error.code)
        return failure_of(error)
    metrics().count("Disconnects")
    return ok()
