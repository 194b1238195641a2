"""Around every invocation: its log fields in scope, and its metrics written when the handler returns."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

from . import logcontext, wiring
from .errors import ServiceError, as_service_error
from .metrics import Metrics

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], dict[str, Any]]

logcontext.install()


def metrics() -> Metrics:
    """This process's metrics (the runtime's)."""
    return wiring.current().metrics


def refused(exc: BaseException, metrics_of: Callable[[], Metrics] = metrics) -> ServiceError:
    """A refused HTTP API request or direct invoke: its mapped error, counted as ``RequestsRefused`` by reason (a
    count that cannot be made, settings that do not load, never spoils the answer)."""
    error = as_service_error(exc)
    with contextlib.suppress(Exception):
        metrics_of().count("RequestsRefused", Reason=error.code)
    return error


def observed(route: str | None = None) -> Callable[[Handler], Handler]:
    """Wrap a handler: ``route`` (else the event's route key) and the connection id go into its log records."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def invoke(event: Any, context: Any) -> dict[str, Any]:
            with logcontext.scope(**_fields(event, route)):
                try:
                    return handler(event, context)
                finally:
                    _flush()

        return invoke

    return decorate


def _fields(event: Any, route: str | None) -> dict[str, str]:
    request_context = event.get("requestContext") if isinstance(event, dict) else None
    if not isinstance(request_context, dict):
        return {"route": route} if route else {}
    fields = {"route": route or str(request_context.get("routeKey", ""))}
    if "connectionId" in request_context:
        fields["connectionId"] = str(request_context["connectionId"])
    return fields


def _flush() -> None:
    try:
        metrics().flush()
    except Exception:  # settings that do not load: the handler has answered the error already
        log.exception("metrics not written")
