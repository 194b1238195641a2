"""The broadcast requests and answer of the internal HTTP API (pydantic models, no web framework): the FastAPI app
and the direct routes validate with the same models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from .limits import MAX_ID_LENGTH, MAX_NAME_LENGTH

__all__ = [
    "TENANT_PATTERN",
    "BroadcastAnswer",
    "BroadcastBody",
    "ConversationBroadcastBody",
    "TenantBroadcastBody",
    "validation_message",
]

TENANT_PATTERN = r"^[^{}]+$"  # a tenant id may not break out of its Redis hash tag
TenantId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern=TENANT_PATTERN)]
ConversationId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
EventId = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]


class TenantBroadcastBody(BaseModel):
    event: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
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


def validation_message(errors: Any) -> str:
    """One line naming each invalid field: ``body.tenantId: Field required; ...``."""
    parts = []
    for error in list(errors)[:10]:
        where = ".".join(str(part) for part in error.get("loc", ())) or "body"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"
