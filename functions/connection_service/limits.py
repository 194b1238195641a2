"""Limits set by API Gateway or by the wire protocol, each defined here once."""

from __future__ import annotations

MAX_FRAME_BYTES = 128 * 1024
"""API Gateway's WebSocket message limit: a frame the service sends or receives is at most this long."""

MAX_ID_LENGTH = 128
"""Tenant, conversation, lead, event and request ids."""

MAX_NAME_LENGTH = 64
"""Event and action names."""

MAX_LEAD_STATUS_LENGTH = 64
"""A lead's status, as a client sets it and as ``lead_status_updated`` carries it."""
