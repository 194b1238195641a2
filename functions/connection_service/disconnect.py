"""``$disconnect``: remove everything the connection registered (idempotent; API Gateway sends it best-effort)."""

from __future__ import annotations

from typing import Any

from . import runtime
from .apigw import WebSocketEvent
from .responses import failure, ok


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        runtime.current().registry.unregister(WebSocketEvent(event).connection_id)
    except Exception as exc:
        return failure(exc)
    return ok()
