from __future__ import annotations

from typing import Any

import pytest

from connection_service.errors import InvalidEvent
from connection_service.event_catalog import CATALOG, validate_event

VALID: dict[str, dict[str, Any]] = {
    "call_incoming": {"callId": "c1", "from": "+15550001111", "to": "+15550002222"},
    "call_missed": {"callId": "c1", "from": "+15550001111"},
    "message_received": {"messageId": "m1", "conversationId": "v1", "from": "+15550001111", "body": "hi"},
    "message_sent": {"messageId": "m1", "conversationId": "v1", "to": "+15550001111", "body": "hello"},
    "ai_activated": {"conversationId": "v1"},
    "dashboard_status": {"activeConnections": 3, "activeUsers": 2},
    "conversation_taken_over": {"conversationId": "v1", "userId": "u1"},
    "lead_status_updated": {"leadId": "l1", "status": "qualified"},
}


def test_every_catalogued_event_has_a_valid_sample_here() -> None:
    assert set(VALID) == set(CATALOG)


@pytest.mark.parametrize("event", sorted(VALID))
def test_a_valid_payload_is_delivered_as_sent(event: str) -> None:
    assert validate_event(event, VALID[event]) == VALID[event]


@pytest.mark.parametrize("event", sorted(VALID))
def test_a_payload_missing_its_first_required_field_is_refused(event: str) -> None:
    payload = dict(VALID[event])
    payload.pop(next(iter(payload)))

    with pytest.raises(InvalidEvent, match=event):
        validate_event(event, payload)


def test_unknown_events_are_refused_with_the_known_names() -> None:
    with pytest.raises(InvalidEvent, match="call_incoming"):
        validate_event("call_exploded", {})


def test_extra_fields_pass_through() -> None:
    assert validate_event("ai_activated", {"conversationId": "v1", "model": "gpt"})["model"] == "gpt"
