"""The broadcast function: the internal HTTP API (FastAPI behind Mangum), plain Lambda Invoke, and the scheduler.

One handler, several event sources, chosen as Mangum chooses its handlers: each source says whether it handles
the event (``infer``), the first that does wins. Order: API Gateway / HTTP API (anything Mangum recognises, i.e.
with a ``requestContext``), the EventBridge schedule (``source: aws.events``, ``detail-type: Scheduled Event``),
then a direct Invoke whose event is the ``POST /broadcast/`` body.

A direct Invoke needs no service key (IAM authorises ``lambda:InvokeFunction``). It answers plain JSON::

    {"ok": true,  "status": 202, "id": "...", "delivered": 2, "failed": 0, "pruned": 0, "duplicate": false}
    {"ok": false, "status": 422, "error": {"code": "invalid_event", "message": "..."}, "retryable": false}

``status`` is the HTTP status the same request would have had; ``retryable`` (true for 503, with
``retryAfter`` seconds) says the event was not accepted and should be sent again. Errors are answered, never
raised, so a synchronous invoker gets no stack trace: invoke with ``RequestResponse`` to learn the outcome.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import TYPE_CHECKING, Any, Protocol

from mangum import Mangum
from mangum.adapter import HANDLERS as MANGUM_HANDLERS
from pydantic import ValidationError

from . import direct_routes, logcontext, wiring
from .broadcast_models import BroadcastBody, validation_message
from .dashboard_status import DashboardStatusSender
from .errors import BadRequest, InvalidEvent, error_body
from .fanout import Broadcaster
from .observe import observed, refused
from .shared_types import Broadcast

log = logging.getLogger(__name__)


def broadcaster() -> Broadcaster:
    return wiring.current().broadcaster


def dashboard_status() -> DashboardStatusSender:
    """Made per scheduled run (a plain object over the cached runtime and broadcaster)."""
    rt = wiring.current()
    return DashboardStatusSender(rt.registry, broadcaster(), rt.clock)


if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import Receive, Scope, Send


@functools.lru_cache(maxsize=1)
def app() -> FastAPI:
    """The FastAPI app, made on its first request: the direct routes answer plain broadcasts without it, so the
    function's init (a cold start under load above all) does not import the web framework."""
    from .api import create_app

    return create_app(wiring.current)


async def _app_on_first_request(scope: Scope, receive: Receive, send: Send) -> None:
    await app()(scope, receive, send)


wiring.start("internal_service_key")
_http = Mangum(_app_on_first_request, lifespan="off")


class EventSource(Protocol):
    name: str

    def infer(self, event: Any, context: Any) -> bool: ...

    def __call__(self, event: Any, context: Any) -> dict[str, Any]: ...


def direct_failure(exc: BaseException) -> dict[str, Any]:
    """A direct invoker's error answer, mapped by the same rules as the HTTP API (errors.as_service_error)."""
    error = refused(exc)
    answer: dict[str, Any] = {"ok": False, "status": error.status, **error_body(error)}
    answer["retryable"] = error.status == 503
    if error.retry_after is not None:
        answer["retryAfter"] = error.retry_after
    return answer


class HttpApi:
    """API Gateway HTTP API (v2) and REST (v1) events: a plain broadcast directly (direct_routes), the rest by the
    FastAPI app through Mangum."""

    name = "http"

    def infer(self, event: Any, context: Any) -> bool:
        return isinstance(event, dict) and any(h.infer(event, context, _http.config) for h in MANGUM_HANDLERS)

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        direct = direct_routes.answer(event, wiring.current())
        return direct if direct is not None else self.through_app(event, context)

    def through_app(self, event: Any, context: Any) -> dict[str, Any]:
        _ensure_event_loop()
        return dict(_http(event, context))


def _ensure_event_loop() -> None:
    """Mangum runs the app on the thread's current event loop; give the thread a usable one when it has none
    (a worker thread) or when its loop was closed (a host that ran and closed one before)."""
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())


class Schedule:
    """The EventBridge schedule: ``dashboard_status`` to every tenant with live connections."""

    name = "schedule"

    def infer(self, event: Any, context: Any) -> bool:
        return (
            isinstance(event, dict)
            and event.get("source") == "aws.events"
            and event.get("detail-type") == "Scheduled Event"
        )

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        try:
            result = dashboard_status().send()
        except Exception as exc:
            return direct_failure(exc)
        log.info("dashboard_status: %s", result.as_dict())
        return {"ok": True, "status": 200, "event": "dashboard_status", **result.as_dict()}


class DirectInvoke:
    """A plain Invoke with the ``POST /broadcast/`` body: no ``requestContext``."""

    name = "invoke"

    def infer(self, event: Any, context: Any) -> bool:
        return not (isinstance(event, dict) and "requestContext" in event)

    def __call__(self, event: Any, context: Any) -> dict[str, Any]:
        try:
            if not isinstance(event, dict):
                raise BadRequest("the invoke payload must be a JSON object: the POST /broadcast/ body")
            try:
                body = BroadcastBody.model_validate(event)
            except ValidationError as exc:
                raise InvalidEvent(validation_message(exc.errors())) from exc
            result = broadcaster().broadcast(
                Broadcast(body.event, body.tenantId, body.data, body.conversationId, body.eventId)
            )
        except Exception as exc:
            return direct_failure(exc)
        return {"ok": True, "status": 202, **result.as_dict()}


SOURCES: tuple[EventSource, ...] = (HttpApi(), Schedule(), DirectInvoke())


@observed()
def handler(event: Any, context: Any) -> dict[str, Any]:
    for source in SOURCES:
        if source.infer(event, context):
            logcontext.bind(source=source.name)
            return source(event, context)
    return direct_failure(BadRequest("unrecognised event"))  # unreachable: DirectInvoke takes the rest
