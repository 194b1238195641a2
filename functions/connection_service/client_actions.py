"""Client actions on the ``$default`` route: parse, rate-limit, dispatch, reply through the gateway.

:meth:`MessageService.handle` never raises for anything a client sends: every frame gets exactly one reply
carrying its ``requestId`` (its result event or ``error``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import logcontext
from .call_service_client import ActingUser, CallService, idempotency_key
from .errors import (
    BadRequest,
    ConnectionGone,
    DeliveryFailed,
    Forbidden,
    RateLimited,
    UnknownAction,
    UpstreamUnavailable,
    as_service_error,
)
from .eventlog import EventLog
from .limits import MAX_ID_LENGTH, MAX_LEAD_STATUS_LENGTH, MAX_NAME_LENGTH
from .metrics import Metrics
from .protocol import ClientFrame, encode, error_frame, event_frame, parse_client_frame, request_id_of
from .registry import Registry, Touch
from .shared_types import Broadcast, Broadcasting, Clock, ConnectionsClient

log = logging.getLogger(__name__)

MAX_REPLAY = 1000
# A refused message is a strike and strikes halve every FLOOD_HALF_LIFE_S: a connection is closed once they reach
# FLOOD_STRIKES, i.e. after about 50 refusals in a row, or when refusals keep coming at 3.5/s or more on average,
# whatever share of its messages gets through.
FLOOD_STRIKES = 50
FLOOD_HALF_LIFE_S = 10.0
MAX_STREAM_ID_PART = 2**64 - 1
_EVENT_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")


@dataclass(frozen=True, slots=True)
class Caller:
    connection_id: str
    tenant_id: str
    user_id: str
    connected_at: float


@dataclass(frozen=True, slots=True)
class MessageSettings:
    rate_per_s: float
    burst: int
    heartbeat_interval_ms: int


Frame = dict[str, Any] | bytes
Action = Callable[[Caller, ClientFrame], list[Frame]]


def _event_id(value: object) -> str:
    """A resume cursor from the client: a stream id ``<ms>-<seq>``, each part ASCII digits within 0..2^64-1.
    Returned normalised (no leading zeros), as the log writes ids."""
    match = _EVENT_ID.fullmatch(value) if isinstance(value, str) else None
    if match is None or max(int(match[1]), int(match[2])) > MAX_STREAM_ID_PART:
        raise BadRequest("data.lastEventId must be an event id such as '1700000000000-0'")
    return f"{int(match[1])}-{int(match[2])}"


def _identifier(value: object, name: str) -> str:
    """An id from the client's data: a non-empty string of at most MAX_ID_LENGTH characters (valid Unicode, as
    every string of a parsed frame)."""
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise BadRequest(f"data.{name} must be a non-empty string of at most {MAX_ID_LENGTH} characters")
    return value


class MessageService:
    def __init__(
        self,
        registry: Registry,
        event_log: EventLog,
        gateway: ConnectionsClient,
        settings: MessageSettings,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self._registry = registry
        self._event_log = event_log
        self._gateway = gateway
        self._settings = settings
        self._clock = clock
        self._metrics = metrics
        self._actions: dict[str, Action] = {
            "hello": self._hello,
            "ping": self._ping,
            "subscribe_conversation": self._subscribe,
            "unsubscribe_conversation": self._unsubscribe,
        }

    def register(self, name: str, action: Action) -> None:
        """Add an action (the user actions forwarded upstream are registered this way)."""
        self._actions[name] = action

    def handle(self, connection_id: str, body: str | None) -> bytes | None:
        """Answer one client frame: its one reply is returned, for the route's response to carry; when an answer
        is several frames (``authenticated`` and a replay), all are posted in order and ``None`` is returned.
        Raises only if Redis or the gateway fail while nothing could be replied."""
        held, request_id = request_id_of(body)
        replies: list[bytes]
        try:
            replies = [
                frame if isinstance(frame, bytes) else encode(frame) for frame in self._dispatch(connection_id, body)
            ]
        except Exception as exc:  # a refusal, Redis down or a bug: the client still gets its one reply
            error = as_service_error(exc)
            self._metrics.count("MessagesRefused", Reason=error.code)
            if isinstance(error, UpstreamUnavailable):
                self._metrics.count("UpstreamErrors")
            replies = [encode(error_frame(error, request_id, null_request_id=held and request_id is None))]
        if len(replies) == 1:
            return replies[0]
        self._send(connection_id, replies)
        return None

    def _dispatch(self, connection_id: str, body: str | None) -> list[Frame]:
        # Every frame counts against the rate limit, a malformed one too: a flood of them is closed as well.
        settings = self._settings
        touch = self._registry.touch_and_meter(
            connection_id, self._clock(), settings.rate_per_s, settings.burst, FLOOD_HALF_LIFE_S
        )
        if touch is None:
            raise Forbidden("connection is not registered")
        logcontext.bind(tenantId=touch.tenant_id)
        if not touch.allowed:
            if touch.strikes >= FLOOD_STRIKES:
                self._close(connection_id, touch)
                return []  # closed: there is no one left to answer
            raise RateLimited("too many messages", retry_after=1)
        frame = parse_client_frame(body)
        action = self._actions.get(frame.action)
        if action is None:
            raise UnknownAction(f"unknown action {frame.action[:MAX_NAME_LENGTH]!r}")
        self._metrics.count("Messages", Action=frame.action)
        caller = Caller(connection_id, touch.tenant_id, touch.user_id, touch.connected_at)
        return action(caller, frame)

    def _send(self, connection_id: str, replies: list[bytes]) -> None:
        for reply in replies:
            try:
                self._gateway.post(connection_id, reply)
            except ConnectionGone:
                self._registry.unregister(connection_id)
                return
            except DeliveryFailed:
                log.warning("reply to %s not delivered", connection_id)
                return

    def _close(self, connection_id: str, touch: Touch) -> None:
        log.warning("closing %s: it keeps flooding (%.0f strikes)", connection_id, touch.strikes)
        with contextlib.suppress(ConnectionGone, DeliveryFailed):
            self._gateway.delete(connection_id)
        self._registry.remove(touch.tenant_id, {connection_id: touch.user_id})

    # --- actions -------------------------------------------------------------------------------------------

    def _hello(self, caller: Caller, frame: ClientFrame) -> list[Frame]:
        conversations = frame.data.get("conversations", [])
        if not isinstance(conversations, list) or len(conversations) > 100:
            raise BadRequest("data.conversations must be a list of at most 100 conversation ids")
        wanted = [_identifier(c, "conversationId") for c in conversations]
        last_event_id = frame.data.get("lastEventId")
        if last_event_id is not None:
            last_event_id = _event_id(last_event_id)
        now = self._clock()
        wanted = self._registry.subscribe_many(caller.tenant_id, caller.connection_id, wanted, now)
        frames: list[Frame] = [
            event_frame(
                "authenticated",
                {
                    "connectionId": caller.connection_id,
                    "tenantId": caller.tenant_id,
                    "userId": caller.user_id,
                    "heartbeatIntervalMs": self._settings.heartbeat_interval_ms,
                    "subscriptions": wanted,
                },
                frame.request_id,
            )
        ]
        if last_event_id is not None:
            frames.extend(self._replay(caller, last_event_id, set(wanted)))
        return frames

    def _replay(self, caller: Caller, last_event_id: str, conversations: set[str]) -> list[Frame]:
        # Up to now, not to the connection's registration: an event appended while $connect registered it (or
        # before hello subscribed its conversations) reaches it neither live nor by a replay that stops there.
        # An event appended since the registration may so come both live and replayed: clients de-duplicate by id.
        replay = self._event_log.since(caller.tenant_id, last_event_id, "+", MAX_REPLAY + 1)
        if not replay.complete or len(replay.entries) > MAX_REPLAY:
            return [encode(event_frame("resync_required", {"lastEventId": last_event_id}))]
        frames: list[Frame] = [
            entry.frame()
            for entry in replay.entries
            if not entry.conversation_id or entry.conversation_id in conversations
        ]
        # Live events may overtake the replay on the wire: this marker tells the client the past is complete.
        frames.append(event_frame("replay_complete", {"count": len(frames)}))
        return frames

    def _ping(self, caller: Caller, frame: ClientFrame) -> list[Frame]:
        return [event_frame("pong", {"serverTime": int(self._clock() * 1000)}, frame.request_id)]

    def _subscribe(self, caller: Caller, frame: ClientFrame) -> list[Frame]:
        conversation_id = _identifier(frame.data.get("conversationId"), "conversationId")
        if not self._registry.subscribe(caller.tenant_id, caller.connection_id, conversation_id, self._clock()):
            raise BadRequest("too many subscriptions on this connection")
        return [event_frame("ack", {"action": frame.action, "conversationId": conversation_id}, frame.request_id)]

    def _unsubscribe(self, caller: Caller, frame: ClientFrame) -> list[Frame]:
        conversation_id = _identifier(frame.data.get("conversationId"), "conversationId")
        self._registry.unsubscribe(caller.tenant_id, caller.connection_id, conversation_id)
        return [event_frame("ack", {"action": frame.action, "conversationId": conversation_id}, frame.request_id)]


# --- user actions: forwarded to as-call-service, then announced to the tenant -------------------------------

MAX_SMS_BODY = 1600


def _text(data: dict[str, Any], name: str, max_length: int, *, printable: bool) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"data.{name} must be a non-empty string")
    if len(value) > max_length:
        raise BadRequest(f"data.{name} must be at most {max_length} characters (got {len(value)})")
    if printable and not value.isprintable():
        raise BadRequest(f"data.{name} must not contain control characters")
    return value


class UserActions:
    """``takeover_conversation``, ``send_message`` and ``update_lead_status``.

    Each is validated (nothing invalid reaches upstream), forwarded to as-call-service as the connection's tenant
    and user with the client's ``requestId`` as idempotency key, and answered with ``ack`` ``{action, result}``
    carrying upstream's answer. Once upstream has accepted a takeover or a lead status change, the event is
    broadcast to every live connection of the tenant (the caller's included, so its resume cursor covers it)
    through the tenant's event log; a repeated ``requestId`` is not announced twice. A failed announcement is
    logged and does not turn the done action into an error.
    """

    def __init__(self, upstream: Callable[[], CallService], broadcaster: Callable[[], Broadcasting]) -> None:
        # Both made on first use: the httpx client, the fan-out and its event catalog cost other actions nothing.
        self._upstream = upstream
        self._broadcaster = broadcaster

    def actions(self) -> dict[str, Action]:
        return {
            "takeover_conversation": self._takeover,
            "send_message": self._send_message,
            "update_lead_status": self._update_lead_status,
        }

    def register(self, service: MessageService) -> None:
        for name, action in self.actions().items():
            service.register(name, action)

    def _takeover(self, caller: Caller, frame: ClientFrame) -> list[Frame]:
        conversation_id = _identifier(frame.data.get("conversationId"), "conversationId")
        result = self._upstream().takeover_conversation(self._identity(caller, frame), conversation_id)
        self._announce(caller, frame, "conversation_taken_over", {"conversationId": conversation_id})
        return [self._ack(frame, result)]

    def _send_message(self, caller: Caller, frame: ClientFrame) -> list[Frame]:
        conversation_id = _identifier(frame.data.get("conversationId"), "conversationId")
        body = _text(frame.data, "body", MAX_SMS_BODY, printable=False)
        result = self._upstream().send_message(self._identity(caller, frame), conversation_id, body)
        return [self._ack(frame, result)]  # message_sent comes from as-call-service / twilio-server

    def _update_lead_status(self, caller: Caller, frame: ClientFrame) -> list[Frame]:
        lead_id = _identifier(frame.data.get("leadId"), "leadId")
        status = _text(frame.data, "status", MAX_LEAD_STATUS_LENGTH, printable=True)
        result = self._upstream().update_lead_status(self._identity(caller, frame), lead_id, status)
        self._announce(caller, frame, "lead_status_updated", {"leadId": lead_id, "status": status})
        return [self._ack(frame, result)]

    @staticmethod
    def _identity(caller: Caller, frame: ClientFrame) -> ActingUser:
        return ActingUser(caller.tenant_id, caller.user_id, idempotency_key(frame.request_id))

    @staticmethod
    def _ack(frame: ClientFrame, result: Any) -> Frame:
        return event_frame("ack", {"action": frame.action, "result": result}, frame.request_id)

    def _announce(self, caller: Caller, frame: ClientFrame, event: str, data: dict[str, Any]) -> None:
        data = {**data, "userId": caller.user_id}
        event_id = None
        if frame.request_id:
            # The same request retried (same user, requestId and change) is announced once.
            digest = hashlib.sha256(json.dumps([event, caller.user_id, frame.request_id, data]).encode())
            event_id = f"user-action:{digest.hexdigest()}"
        try:
            self._broadcaster().broadcast(Broadcast(event, caller.tenant_id, data, event_id=event_id))
        except Exception:  # done upstream: the caller still gets its ack
            log.exception("%s accepted by as-call-service but not broadcast", event)
