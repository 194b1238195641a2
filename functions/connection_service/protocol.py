"""The wire protocol between dashboards and the service, free of I/O.

Client frame: ``{"action": str, "requestId"?: str, "data"?: object}``.
Service frame: ``{"event": str, "requestId"?, "id"?, "tenantId"?, "conversationId"?, "occurredAt"?, "data": {}}``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from .errors import BadRequest, ServiceError
from .limits import MAX_ID_LENGTH, MAX_NAME_LENGTH


@dataclass(frozen=True, slots=True)
class ClientFrame:
    action: str
    request_id: str | None
    data: dict[str, Any]


def request_id_of(body: str | None) -> tuple[bool, str | None]:
    """Whether the frame holds a ``requestId``, and the id if a reply can echo it (``None`` when it cannot: not a
    string, too long, not valid Unicode), so even a refused frame's error can carry it."""
    try:
        parsed = json.loads(body or "")
    except (ValueError, RecursionError):
        return False, None
    if not isinstance(parsed, dict) or parsed.get("requestId") is None:
        return False, None
    request_id = parsed["requestId"]
    return True, request_id if _echoable(request_id) else None


def _echoable(request_id: object) -> bool:
    return isinstance(request_id, str) and len(request_id) <= MAX_ID_LENGTH and is_unicode(request_id)


def is_unicode(text: str) -> bool:
    """Whether ``text`` is valid Unicode: a lone surrogate (``"\\ud800"`` in JSON) has no UTF-8 encoding."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


# Where a value sits in a document: (where its container sits, its key or index), None at the root.
_Trail = tuple[Any, str | int] | None


def not_json(document: Any) -> str | None:
    """Why a parsed document is not strict JSON, and where (``data.x[0]: ...``); ``None`` when it is.

    Python's json reads and writes ``NaN``/``Infinity``/``-Infinity`` (and ``1e999`` as infinity), which JSON.parse
    refuses, and a ``\\ud800`` escape as a lone surrogate, which has no UTF-8 encoding. Iterative: a parsed
    document may nest about as deep as the recursion limit.
    """
    pending: list[tuple[Any, _Trail]] = [(document, None)]
    while pending:
        value, trail = pending.pop()
        if isinstance(value, str):
            if not is_unicode(value):
                return f"{_where(trail)}: not valid Unicode (a lone surrogate)"
        elif isinstance(value, float):
            if not math.isfinite(value):
                return f"{_where(trail)}: {json.dumps(value)} is not a JSON number (JSON has no NaN or Infinity)"
        elif isinstance(value, dict):
            for key, member in value.items():
                if isinstance(key, str) and not is_unicode(key):
                    return f"{_where(trail)}: a key is not valid Unicode (a lone surrogate)"
                pending.append((member, (trail, str(key))))
        elif isinstance(value, (list, tuple)):
            pending.extend((member, (trail, index)) for index, member in enumerate(value))
    return None


def _where(trail: _Trail) -> str:
    parts: list[str] = []
    while trail is not None:
        trail, step = trail
        parts.append(f"[{step}]" if isinstance(step, int) else f".{step[:64]}")
    where = "".join(reversed(parts)).removeprefix(".") or "value"
    return where if len(where) <= 100 else where[:97] + "..."


def parse_client_frame(body: str | None) -> ClientFrame:
    """Parse a client frame as strict JSON; raises :class:`BadRequest` with a reason for anything malformed."""
    if not body:
        raise BadRequest("empty frame")
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("frame is not valid JSON") from exc
    if not isinstance(parsed, dict):
        raise BadRequest("frame must be a JSON object")
    request_id = parsed.get("requestId")
    if request_id is not None and not _echoable(request_id):
        if isinstance(request_id, str) and len(request_id) <= MAX_ID_LENGTH:
            raise BadRequest("requestId is not valid Unicode (a lone surrogate): it cannot be echoed")
        raise BadRequest(f"requestId must be a string of at most {MAX_ID_LENGTH} characters")
    problem = not_json(parsed)
    if problem is not None:
        raise BadRequest(f"frame is not strict JSON: {problem}")
    action = parsed.get("action")
    if not isinstance(action, str) or not action or len(action) > MAX_NAME_LENGTH:
        raise BadRequest("action must be a non-empty string")
    data = parsed.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise BadRequest("data must be a JSON object")
    return ClientFrame(action=action, request_id=request_id, data=data)


def event_frame(
    event: str, data: dict[str, Any], request_id: str | None = None, *, null_request_id: bool = False
) -> dict[str, Any]:
    """A service frame; it carries ``requestId`` when given one, or ``null`` with ``null_request_id`` (the
    client sent one that cannot be echoed)."""
    frame: dict[str, Any] = {"event": event}
    if request_id is not None or null_request_id:
        frame["requestId"] = request_id
    frame["data"] = data
    return frame


def error_frame(error: ServiceError, request_id: str | None = None, *, null_request_id: bool = False) -> dict[str, Any]:
    return event_frame(
        "error", {"code": error.code, "message": error.message}, request_id, null_request_id=null_request_id
    )


def iso_time(timestamp: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``: the one timestamp format on the wire and in the internal API."""
    moment = datetime.fromtimestamp(timestamp, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def encode(frame: dict[str, Any]) -> bytes:
    """A frame as strict JSON in UTF-8; raises ValueError for what JSON cannot carry: ``NaN``/``Infinity``, or a
    lone surrogate (UnicodeEncodeError)."""
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
