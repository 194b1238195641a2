"""The internal HTTP API (DESIGN §5): FastAPI, served behind Mangum by the broadcast function."""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .errors import ServiceError, Unauthorized, as_service_error, error_body, error_headers
from .fanout import Broadcast, Broadcaster
from .runtime import Runtime

TenantId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^{}]+$")]
ConversationId = Annotated[str, Field(min_length=1, max_length=128)]
EventId = Annotated[str, Field(min_length=1, max_length=128)]


class TenantBroadcastBody(BaseModel):
    event: str = Field(min_length=1, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict)
    eventId: EventId | None = None


class ConversationBroadcastBody(TenantBroadcastBody):
    tenantId: TenantId


class BroadcastBody(ConversationBroadcastBody):
    conversationId: ConversationId | None = None


class BroadcastAnswer(BaseModel):
    id: str
    delivered: int
    failed: int
    pruned: int
    duplicate: bool = False


def create_app(runtime: Callable[[], Runtime], broadcaster: Callable[[], Broadcaster]) -> FastAPI:
    """The app; ``runtime`` and ``broadcaster`` are called on first use (cold start), not at import."""
    app = FastAPI(
        title="as-connection-service internal API",
        description="Broadcast events to NeverMissCall dashboards and inspect live connections.",
        version="1.0.0",
    )

    def require_service_key(x_internal_service_key: Annotated[str | None, Header()] = None) -> None:
        expected = runtime().settings.internal_service_key.get_secret_value().encode()
        given = (x_internal_service_key or "").encode()
        if not expected or not hmac.compare_digest(given, expected):
            raise Unauthorized("missing or invalid X-Internal-Service-Key")

    @app.exception_handler(Exception)
    async def service_error(request: Request, exc: Exception) -> JSONResponse:
        error = as_service_error(exc)
        if type(error) is ServiceError:
            import logging

            logging.getLogger(__name__).exception("unexpected error", exc_info=exc)
        return JSONResponse(error_body(error), status_code=error.status, headers=error_headers(error))

    app.add_exception_handler(ServiceError, service_error)

    secured = APIRouter(dependencies=[Depends(require_service_key)])

    def send(request: Broadcast) -> BroadcastAnswer:
        return BroadcastAnswer(**broadcaster().broadcast(request).as_dict())

    @secured.post("/broadcast/", status_code=202, response_model=BroadcastAnswer)
    def broadcast(body: BroadcastBody) -> BroadcastAnswer:
        """To the conversation's subscribers when ``conversationId`` is given, else to the whole tenant."""
        return send(Broadcast(body.event, body.tenantId, body.data, body.conversationId, body.eventId))

    @secured.post("/broadcast/tenant/{tenant_id}", status_code=202, response_model=BroadcastAnswer)
    def broadcast_tenant(
        tenant_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^{}]+$")],
        body: TenantBroadcastBody,
    ) -> BroadcastAnswer:
        return send(Broadcast(body.event, tenant_id, body.data, None, body.eventId))

    @secured.post("/broadcast/conversation/{conversation_id}", status_code=202, response_model=BroadcastAnswer)
    def broadcast_conversation(
        conversation_id: Annotated[str, Path(min_length=1, max_length=128)],
        body: ConversationBroadcastBody,
    ) -> BroadcastAnswer:
        return send(Broadcast(body.event, body.tenantId, body.data, conversation_id, body.eventId))

    @secured.get("/connections/tenant/{tenant_id}")
    def tenant_connections(
        tenant_id: Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^{}]+$")],
    ) -> dict[str, Any]:
        rt = runtime()
        infos = rt.registry.tenant_connections(tenant_id, rt.clock())
        return {
            "tenantId": tenant_id,
            "count": len(infos),
            "connections": [
                {
                    "connectionId": info.connection_id,
                    "userId": info.user_id,
                    "connectedAt": info.connected_at,
                    "lastSeenAt": info.last_seen_at,
                    "subscriptions": info.subscriptions,
                }
                for info in infos
            ],
        }

    @app.get("/health/")
    def health() -> dict[str, str]:
        """Liveness: no dependency is called."""
        return {"status": "ok", "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}

    app.include_router(secured)
    return app
