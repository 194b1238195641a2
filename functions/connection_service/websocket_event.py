"""Typed views of the API Gateway WebSocket events the functions receive.

Required keys are read with ``[]`` (a missing one is a malformed event), optional ones with ``.get()``.
"""

from __future__ import annotations

from typing import Any


class WebSocketEvent:
    """A CONNECT, MESSAGE or DISCONNECT event of an API Gateway WebSocket API."""

    __slots__ = ("_context", "_event")

    def __init__(self, event: dict[str, Any]) -> None:
        self._event = event
        self._context: dict[str, Any] = event["requestContext"]

    @property
    def connection_id(self) -> str:
        return str(self._context["connectionId"])

    @property
    def route_key(self) -> str:
        return str(self._context["routeKey"])

    @property
    def event_type(self) -> str:
        return str(self._context["eventType"])

    @property
    def request_id(self) -> str | None:
        return self._context.get("requestId")

    @property
    def body(self) -> str | None:
        body = self._event.get("body")
        if body is not None and self._event.get("isBase64Encoded"):
            import base64

            return base64.b64decode(body).decode("utf-8", errors="replace")
        return body

    @property
    def source_ip(self) -> str:
        return str(self._context.get("identity", {}).get("sourceIp") or "unknown")

    @property
    def query(self) -> dict[str, str]:
        return self._event.get("queryStringParameters") or {}

    @property
    def headers(self) -> dict[str, str]:
        """Headers with lower-cased names (API Gateway keeps the client's case)."""
        return {name.lower(): value for name, value in (self._event.get("headers") or {}).items()}

    @property
    def bearer_token(self) -> str | None:
        """The token from ``?token=``, else from ``Authorization: Bearer``."""
        token = self.query.get("token")
        if token:
            return token
        authorization = self.headers.get("authorization", "")
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
        return None

    @property
    def origin(self) -> str | None:
        return self.headers.get("origin")
