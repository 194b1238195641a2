"""``$disconnect``: remove everything the connection registered (idempotent; API Gateway sends it best-effort)."""

from __future__ import annotations

from typing import Any

from . import runtime
from .apigw import WebSocketEvent
from .observe import metrics, observed
from .responses import failure, ok


@observed("$disconnect")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        runtime.current().registry.unregister(WebSocketEvent(event).connection_id)
    except Exception as exc:
        return failure(exc)
    metrics().count("Disconnects")
    return ok()
