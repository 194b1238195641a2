"""The event catalog: one pydantic model per event the service delivers.

Adding an event is one model here (registered in ``CATALOG``) and one test. Unknown events and payloads that
fail their model are refused with :class:`InvalidEvent` (422); they are never forwarded.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InvalidEvent
from .limits import MAX_ID_LENGTH, MAX_LEAD_STATUS_LENGTH, MAX_NAME_LENGTH

MAX_ADDRESS_LENGTH = 64  # a call's or message's from and to
Id = Field(min_length=1, max_length=MAX_ID_LENGTH)


class EventData(BaseModel):
    """Base of every payload: known fields are checked, extra fields are passed through."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class CallIncoming(EventData):
    callId: str = Id
    from_: str = Field(alias="from", min_length=1, max_length=MAX_ADDRESS_LENGTH)
    to: str = Field(min_length=1, max_length=MAX_ADDRESS_LENGTH)
    conversationId: str | None = Field(default=None, max_length=MAX_ID_LENGTH)


class CallMissed(EventData):
    callId: str = Id
    from_: str = Field(alias="from", min_length=1, max_length=MAX_ADDRESS_LENGTH)
    to: str | None = Field(default=None, max_length=MAX_ADDRESS_LENGTH)
    conversationId: str | None = Field(default=None, max_length=MAX_ID_LENGTH)


class MessageReceived(EventData):
    messageId: str = Id
    conversationId: str = Id
    from_: str = Field(alias="from", min_length=1, max_length=MAX_ADDRESS_LENGTH)
    body: str


class MessageSent(EventData):
    messageId: str = Id
    conversationId: str = Id
    to: str = Field(min_length=1, max_length=MAX_ADDRESS_LENGTH)
    body: str


class AiActivated(EventData):
    conversationId: str = Id
    reason: str | None = None


class DashboardStatus(EventData):
    activeConnections: int = Field(ge=0)
    activeUsers: int = Field(ge=0)


class ConversationTakenOver(EventData):
    conversationId: str = Id
    userId: str = Id


class LeadStatusUpdated(EventData):
    leadId: str = Id
    status: str = Field(min_length=1, max_length=MAX_LEAD_STATUS_LENGTH)
    userId: str | None = None


CATALOG: dict[str, type[EventData]] = {
    "call_incoming": CallIncoming,
    "call_missed": CallMissed,
    "message_received": MessageReceived,
    "message_sent": MessageSent,
    "ai_activated": AiActivated,
    "dashboard_status": DashboardStatus,
    "conversation_taken_over": ConversationTakenOver,
    "lead_status_updated": LeadStatusUpdated,
}


def validate_event(event: str, data: dict[str, Any]) -> dict[str, Any]:
    """The payload as it will be delivered (aliases kept); raises :class:`InvalidEvent` with the reason."""
    model = CATALOG.get(event)
    if model is None:
        raise InvalidEvent(f"unknown event {event[:MAX_NAME_LENGTH]!r}; known: {', '.join(sorted(CATALOG))}")
    try:
        return model.model_validate(data).model_dump(by_alias=True, exclude_none=True)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'data'}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidEvent(f"invalid {event} payload: {reasons}") from exc
