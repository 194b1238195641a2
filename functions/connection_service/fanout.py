"""Broadcasting: validate, append to the tenant's log, post to every recipient, prune the gone."""

from __future__ import annotations

import json
import logging
from typing import Any

from . import logcontext
from .errors import ConnectionGone, InvalidEvent, PayloadTooLarge
from .event_catalog import validate_event
from .eventlog import Entry, EventLog
from .limits import MAX_FRAME_BYTES
from .metrics import Metrics
from .protocol import is_unicode, iso_time, not_json
from .registry import Registry
from .shared_types import Broadcast, BroadcastResult, Clock, ConnectionsClient

log = logging.getLogger(__name__)


def event_body(
    event: str, tenant_id: str, data: dict[str, Any], occurred_at: str, conversation_id: str | None = None
) -> str:
    """A service event as JSON, without its ``id``: what the log stores and, with the id put first, what is sent.

    Strict JSON: raises :class:`InvalidEvent` for what JSON.parse would refuse or UTF-8 cannot encode (NaN,
    Infinity, lone surrogates), whether the data came through the HTTP API's parser or a direct Invoke's."""
    document: dict[str, Any] = {"event": event, "tenantId": tenant_id}
    if conversation_id is not None:
        document["conversationId"] = conversation_id
    document["occurredAt"] = occurred_at
    document["data"] = data
    try:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = ""
    if not text or not is_unicode(text):
        raise InvalidEvent(f"invalid {event} event: {not_json(document) or 'not JSON'}"[:300])
    return text


class Broadcaster:
    def __init__(
        self,
        registry: Registry,
        event_log: EventLog,
        gateway: ConnectionsClient,
        clock: Clock,
        metrics: Metrics,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        self._registry = registry
        self._event_log = event_log
        self._gateway = gateway
        self._clock = clock
        self._metrics = metrics
        self._max_frame_bytes = max_frame_bytes

    def broadcast(self, request: Broadcast) -> BroadcastResult:
        """Deliver an event. Raises InvalidEvent (422), PayloadTooLarge (413), or a Redis error (503).

        The event is in the tenant's log before anything is delivered; a repeated ``event_id`` answers
        with the first id and delivers nothing.
        """
        logcontext.bind(tenantId=request.tenant_id)
        data = validate_event(request.event, request.data)
        if request.event_id is not None and not is_unicode(request.event_id):
            raise InvalidEvent("eventId: not valid Unicode (a lone surrogate)")
        now = self._clock()
        body = event_body(request.event, request.tenant_id, data, iso_time(now), request.conversation_id)
        # The delivered frame adds '"id":"<stream id>",' (at most ~50 bytes) to the stored document.
        if len(body.encode()) + 50 > self._max_frame_bytes:
            raise PayloadTooLarge(f"the event frame exceeds {self._max_frame_bytes} bytes")
        appended = self._event_log.append(
            request.tenant_id,
            body,
            now,
            conversation_id=request.conversation_id or "",
            event_id=request.event_id,
        )
        if appended.duplicate:
            self._metrics.count("DuplicateBroadcasts")
            return BroadcastResult(id=appended.id, delivered=0, failed=0, pruned=0, duplicate=True)
        recipients = self._registry.recipients(request.tenant_id, now, request.conversation_id)
        frame = Entry(appended.id, body, request.conversation_id or "").frame()
        delivered, failed, gone = self.deliver(frame, recipients)
        self._registry.prune(request.tenant_id, gone)
        metrics = self._metrics
        metrics.count("Broadcasts")
        metrics.count("Deliveries", delivered)
        metrics.count("DeliveriesGone", len(gone))
        metrics.count("DeliveryFailures", failed)
        metrics.milliseconds("BroadcastLatency", (self._clock() - now) * 1000)
        return BroadcastResult(id=appended.id, delivered=delivered, failed=failed, pruned=len(gone))

    def deliver(self, frame: bytes, recipients: list[str]) -> tuple[int, int, list[str]]:
        """Post ``frame`` to every recipient; returns (delivered, failed, gone ids)."""
        if not recipients:
            return 0, 0, []
        gone: list[str] = []
        failed = 0
        for connection_id, outcome in zip(recipients, self._gateway.post_many(recipients, frame), strict=True):
            if isinstance(outcome, ConnectionGone):
                gone.append(connection_id)
            elif outcome is not None:
                failed += 1
                log.warning("delivery to %s failed: %s", connection_id, outcome)
        return len(recipients) - failed - len(gone), failed, gone
