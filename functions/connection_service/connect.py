"""``$connect``: verify the token, check the origin and limits, register the connection."""

from __future__ import annotations

import functools
from typing import Any

from . import runtime
from .apigw import WebSocketEvent
from .connections import ConnectionService, OriginPolicy
from .responses import failure, ok


@functools.lru_cache(maxsize=1)
def service() -> ConnectionService:
    rt = runtime.current()
    origins = OriginPolicy(frozenset(rt.settings.allowed_origins), rt.settings.allow_missing_origin)
    return ConnectionService(rt.registry, rt.verifier, origins, rt.clock)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        service().connect(WebSocketEvent(event))
    except Exception as exc:
        return failure(exc)
    return ok()
