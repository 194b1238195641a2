"""``$default``: every client action arrives here; replies go back through ``@connections``."""

from __future__ import annotations

import functools
from typing import Any

from . import wiring
from .call_service_client import CallService
from .client_actions import MessageService, MessageSettings, UserActions
from .observe import observed
from .responses import failure, ok, reply_with
from .websocket_event import WebSocketEvent

wiring.start("internal_service_key")


@functools.lru_cache(maxsize=1)
def service() -> MessageService:
    rt = wiring.current()
    settings = MessageSettings(
        rate_per_s=rt.settings.message_rate_limit_per_second,
        burst=rt.settings.message_rate_limit_burst,
        heartbeat_interval_ms=rt.settings.heartbeat_interval_ms,
    )
    messages = MessageService(rt.registry, rt.event_log, rt.gateway, settings, rt.clock, rt.metrics)
    # as-call-service's client (httpx) is made on the first user action, the broadcaster on the first announcement.
    upstream = functools.cache(lambda: CallService.from_settings(rt.settings, rt.internal_service_key))
    UserActions(upstream, lambda: rt.broadcaster).register(messages)
    return messages


@observed("$default")
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        view = WebSocketEvent(event)
        reply = service().handle(view.connection_id, view.body)
    except Exception as exc:
        return failure(exc)
    return ok() if reply is None else reply_with(reply)
