"""as-call-service, the target of the dashboard's user actions, with its HTTP errors converted where they enter.

The contract (requests, headers, encoding, and what each answer becomes) is docs/call-service.md. Answers are
converted here: :class:`UpstreamUnavailable`, :class:`BadRequest`, :class:`Forbidden`, :class:`RateLimited`.

httpx is imported only here and only when a client is made or a call fails, so the message function's cold
import stays light.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import BadRequest, Forbidden, RateLimited, ServiceError, UpstreamUnavailable
from .limits import MAX_FRAME_BYTES
from .protocol import not_json
from .secret_cache import Secret

if TYPE_CHECKING:
    import httpx

    from .settings import Settings

log = logging.getLogger(__name__)

MAX_UPSTREAM_MESSAGE = 200
MAX_RESPONSE_BYTES = MAX_FRAME_BYTES // 2  # the ack carrying it must fit a frame, with room to spare


@dataclass(frozen=True, slots=True)
class ActingUser:
    """Who asks: the tenant and user of the connection, and the idempotency key of this request."""

    tenant_id: str
    user_id: str
    idempotency_key: str


def idempotency_key(request_id: str | None) -> str:
    """The client's ``requestId`` when it gave one; else a fresh key (a retry without one is a new request)."""
    return request_id if request_id else uuid.uuid4().hex


def make_client(settings: Settings) -> httpx.Client:
    """The one sync client of a function instance: short timeouts, pooled keep-alive connections."""
    import httpx

    timeout = settings.upstream_timeout_s
    return httpx.Client(
        base_url=settings.as_call_service_url.rstrip("/"),
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        limits=httpx.Limits(max_connections=10, max_keepalive_connections=10, keepalive_expiry=30.0),
        follow_redirects=False,
        headers={"User-Agent": f"{settings.service_name}/upstream", "Accept": "application/json"},
    )


def _pct(value: str) -> str:
    """UTF-8 percent-encoding keeping only RFC 3986 unreserved characters (ordinary ids pass unchanged)."""
    try:
        return urllib.parse.quote(value, safe="")
    except UnicodeEncodeError as exc:  # a lone surrogate from the client's JSON
        raise BadRequest("text that is not valid Unicode") from exc


def _segment(value: str) -> str:
    """A path segment for an id: percent-encoded, and never a dot segment that would climb the path."""
    if value in (".", ".."):
        raise BadRequest("invalid id")
    return _pct(value)


def _safe_message(payload: Any) -> str | None:
    """The upstream's explanation, if it has a short printable one (``message``, ``error``, ``detail``)."""
    candidates: list[Any] = []
    if isinstance(payload, dict):
        error = payload.get("error")
        candidates = [
            payload.get("message"),
            error.get("message") if isinstance(error, dict) else error,
            payload.get("detail"),
        ]
    for candidate in candidates:
        if isinstance(candidate, str):
            text = " ".join(candidate.split())
            if text and text.isprintable():
                return text[:MAX_UPSTREAM_MESSAGE]
    return None


class CallService:
    """The user actions' calls to as-call-service. Raises only :class:`ServiceError` subclasses."""

    def __init__(self, client: httpx.Client, service_key: str | Secret) -> None:
        """``service_key``: the key, or the :class:`Secret` it is read from on each call (cached, rotated)."""
        self._client = client
        self._service_key = (
            service_key if isinstance(service_key, Secret) else Secret("INTERNAL_SERVICE_KEY", value=service_key)
        )

    @classmethod
    def from_settings(cls, settings: Settings, service_key: Secret | None = None) -> CallService:
        return cls(make_client(settings), service_key or settings.internal_service_key.get_secret_value())

    def takeover_conversation(self, caller: ActingUser, conversation_id: str) -> Any:
        return self._call("POST", f"/conversations/{_segment(conversation_id)}/takeover", caller, {})

    def send_message(self, caller: ActingUser, conversation_id: str, body: str) -> Any:
        return self._call("POST", f"/conversations/{_segment(conversation_id)}/messages", caller, {"body": body})

    def update_lead_status(self, caller: ActingUser, lead_id: str, status: str) -> Any:
        return self._call("PATCH", f"/leads/{_segment(lead_id)}/status", caller, {"status": status})

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, caller: ActingUser, payload: dict[str, Any]) -> Any:
        import httpx

        try:
            content = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        except UnicodeEncodeError as exc:  # a lone surrogate: not text that can be sent anywhere
            raise BadRequest("data contains text that is not valid Unicode") from exc
        headers = {
            "Content-Type": "application/json",
            "X-Internal-Service-Key": self._service_key.value(),
            "Idempotency-Key": _pct(caller.idempotency_key),
            "X-Tenant-Id": _pct(caller.tenant_id),
            "X-User-Id": _pct(caller.user_id),
        }
        try:
            with self._client.stream(method, path, content=content, headers=headers) as response:
                status = response.status_code
                raw = self._read(response, method, path)
        except httpx.TimeoutException as exc:
            log.warning("as-call-service %s %s timed out: %s", method, path, type(exc).__name__)
            raise UpstreamUnavailable("as-call-service did not answer in time") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            log.warning("as-call-service %s %s failed: %s", method, path, type(exc).__name__)
            raise UpstreamUnavailable() from exc
        return self._outcome(method, path, status, raw)

    @staticmethod
    def _read(response: httpx.Response, method: str, path: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                if 200 <= response.status_code < 300:
                    # Done upstream, but the answer cannot be relayed: say so rather than claim a failure.
                    log.warning("as-call-service %s %s answered over %d bytes", method, path, MAX_RESPONSE_BYTES)
                    return b""
                break  # an error page: its start is enough to look for a message
            chunks.append(chunk)
        return b"".join(chunks)

    @staticmethod
    def _outcome(method: str, path: str, status: int, raw: bytes) -> Any:
        payload: Any = None
        parsed = False
        if raw.strip():
            try:
                payload = json.loads(raw)
                parsed = not_json(payload) is None  # NaN or a lone surrogate could not be relayed to a dashboard
            except (ValueError, RecursionError):
                parsed = False
        if 200 <= status < 300:
            if parsed or not raw.strip():
                return payload
            log.warning("as-call-service %s %s answered %d with a body that is not JSON", method, path, status)
            raise UpstreamUnavailable("as-call-service gave an unreadable answer")
        message = _safe_message(payload) if parsed else None
        error: ServiceError
        if status in (403, 404):
            error = Forbidden("not found or not allowed")
        elif status == 429:
            error = RateLimited(message or "as-call-service is rate limiting; retry later", retry_after=1)
        elif status == 401 or status == 407 or status == 408 or status < 400 or status >= 500:
            if status == 401:
                log.error("as-call-service refused our X-Internal-Service-Key (%s %s)", method, path)
            else:
                log.warning("as-call-service %s %s answered %d", method, path, status)
            error = UpstreamUnavailable()
        else:
            error = BadRequest(message or f"as-call-service refused the request (HTTP {status})")
        raise error
