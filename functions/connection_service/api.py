"""The internal HTTP API: FastAPI, served behind Mangum by the broadcast function."""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException

from .broadcast_models import (
    TENANT_PATTERN,
    BroadcastAnswer,
    BroadcastBody,
    ConversationBroadcastBody,
    TenantBroadcastBody,
    validation_message,
)
from .census import ConnectionsStatus
from .errors import (
    BadRequest,
    InvalidEvent,
    MethodNotAllowed,
    NotFound,
    ServiceError,
    Unauthorized,
    error_body,
    error_headers,
)
from .health import detailed_health
from .limits import MAX_ID_LENGTH
from .observe import refused
from .shared_types import Broadcast

if TYPE_CHECKING:
    from .wiring import Runtime

log = logging.getLogger(__name__)

TenantPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH, pattern=TENANT_PATTERN)]


class TenantCount(BaseModel):
    tenantId: str
    connections: int
    eventLogLength: int


class ConnectionsStatusAnswer(BaseModel):
    connections: int = Field(description="live connections over all tenants")
    tenants: int = Field(description="tenants with at least one live connection")
    eventLogEntries: int = Field(description="entries in the event logs of those tenants")
    perTenant: list[TenantCount]
    checkedAt: str = Field(description="ISO-8601 UTC")


class ConnectionView(BaseModel):
    id: str = Field(description="the API Gateway connection id")
    userId: str
    connectedAt: str = Field(description="ISO-8601 UTC, milliseconds")
    lastSeenAt: str = Field(description="ISO-8601 UTC, milliseconds: last message or ping")
    subscriptions: list[str] = Field(description="conversation ids")


class TenantConnectionsAnswer(BaseModel):
    tenantId: str
    count: int
    connections: list[ConnectionView]
    checkedAt: str


def error_response(error: ServiceError) -> JSONResponse:
    """The API's answer for a mapped error: ``{"error": {code, message}}``, no traceback."""
    return JSONResponse(error_body(error), status_code=error.status, headers=error_headers(error))


def _matches(given: bytes, expected: str) -> bool:
    return bool(expected) and hmac.compare_digest(given, expected.encode())


def create_app(runtime: Callable[[], Runtime]) -> FastAPI:
    """The app; ``runtime`` is called on first use (cold start), not at import."""
    app = FastAPI(
        title="as-connection-service internal API",
        description="Broadcast events to NeverMissCall dashboards and inspect live connections.",
        version="1.0.0",
    )
    _answer_errors(app, runtime)

    async def require_service_key(x_internal_service_key: Annotated[str | None, Header()] = None) -> None:
        key = runtime().internal_service_key
        given = (x_internal_service_key or "").encode()
        if not _matches(given, key.value()) and not (given and key.refetch() and _matches(given, key.value())):
            raise Unauthorized("missing or invalid X-Internal-Service-Key")  # (re-read once first: a rotation)

    secured = APIRouter(dependencies=[Depends(require_service_key)])
    _broadcast_routes(secured, runtime)
    _status_routes(secured, runtime)

    @app.get("/health/")
    async def health() -> dict[str, str]:
        """Liveness: no dependency is called."""
        return {"status": "ok", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    app.include_router(secured)
    return app


def _answer_errors(app: FastAPI, runtime: Callable[[], Runtime]) -> None:
    def refuse(exc: BaseException) -> JSONResponse:
        """Every error crosses here: mapped once (errors.as_service_error), counted by reason (observe.refused)."""
        return error_response(refused(exc, lambda: runtime().metrics))

    # Handlers registered for specific classes run inside the app (the answer is final); the ``Exception`` one is
    # Starlette's last resort for anything else.
    async def service_error(request: Request, exc: Exception) -> JSONResponse:
        return refuse(exc)

    async def request_invalid(request: Request, exc: Exception) -> JSONResponse:
        errors = exc.errors() if isinstance(exc, (RequestValidationError, ValidationError)) else []
        return refuse(InvalidEvent(validation_message(errors)))

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        mapped: ServiceError
        if status == 404:
            mapped = NotFound(f"no route {request.method} {request.url.path}")
        elif status == 405:
            mapped = MethodNotAllowed(f"method {request.method} not allowed on {request.url.path}")
        else:
            mapped = BadRequest(str(getattr(exc, "detail", "bad request")), status=status)
        return refuse(mapped)

    app.add_exception_handler(Exception, service_error)
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RedisConnectionError, service_error)
    app.add_exception_handler(RedisTimeoutError, service_error)
    app.add_exception_handler(RequestValidationError, request_invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)


# Every route is ``async def`` over synchronous services: an execution environment serves one invocation at a
# time, so blocking the loop costs nothing, while a sync route would cost a worker thread per request.


def _broadcast_routes(secured: APIRouter, runtime: Callable[[], Runtime]) -> None:
    def send(request: Broadcast) -> BroadcastAnswer:
        return BroadcastAnswer(**runtime().broadcaster.broadcast(request).as_dict())

    @secured.post("/broadcast/", status_code=202, response_model=BroadcastAnswer)
    async def broadcast(body: BroadcastBody) -> BroadcastAnswer:
        """To the conversation's subscribers when ``conversationId`` is given, else to the whole tenant."""
        return send(Broadcast(body.event, body.tenantId, body.data, body.conversationId, body.eventId))

    @secured.post("/broadcast/tenant/{tenant_id}", status_code=202, response_model=BroadcastAnswer)
    async def broadcast_tenant(
        tenant_id: TenantPath,
        body: TenantBroadcastBody,
    ) -> BroadcastAnswer:
        return send(Broadcast(body.event, tenant_id, body.data, None, body.eventId))

    @secured.post("/broadcast/conversation/{conversation_id}", status_code=202, response_model=BroadcastAnswer)
    async def broadcast_conversation(
        conversation_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
        body: ConversationBroadcastBody,
    ) -> BroadcastAnswer:
        return send(Broadcast(body.event, body.tenantId, body.data, conversation_id, body.eventId))


def _status_routes(secured: APIRouter, runtime: Callable[[], Runtime]) -> None:
    def connections_status() -> ConnectionsStatus:
        rt = runtime()
        return ConnectionsStatus(rt.registry, rt.event_log, rt.clock)

    @secured.get("/connections/status", response_model=ConnectionsStatusAnswer)
    async def status() -> dict[str, Any]:
        """Totals over tenants with live connections (expired connections are pruned as they are read)."""
        return connections_status().totals()

    @secured.get("/connections/tenant/{tenant_id}", response_model=TenantConnectionsAnswer)
    async def tenant_connections(
        tenant_id: TenantPath,
    ) -> dict[str, Any]:
        """The tenant's live connections, oldest first; an unknown tenant has none."""
        return connections_status().tenant(tenant_id)

    @secured.get("/health/detailed", responses={503: {"description": "a dependency is down (status: degraded)"}})
    async def health_detailed() -> JSONResponse:
        """Redis (ping latency, pool), connection counts, event log, management API and auth service."""
        code, report = detailed_health(runtime())
        headers = {"Retry-After": "5"} if code == 503 else {}
        return JSONResponse(report, status_code=code, headers=headers)
