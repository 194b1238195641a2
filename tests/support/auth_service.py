"""A stand-in for ts-auth-service's token validation (a service we do not own), for integration tests.

``POST /auth/validate`` with ``Authorization: Bearer <token>`` answers 200 ``{"valid": true, "user": {"id",
"tenantId"}}`` for tokens it was told are valid, 401 ``{"valid": false}`` for any other; a GET, 404. It counts calls (to
prove the cache), records what it received, and can misbehave: stopped (connection refused), ``failing`` (500),
``hanging`` (holds each request until released, or ``hold_max_s`` at most, then answers normally).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

from tests.support.stub_server import QuietHandler, StubServer, answer_json, stand_in


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    authorization: str


class _Handler(QuietHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        status, body = stand_in(self, AuthService).validate(self.path, self.headers.get("Authorization", ""))
        answer_json(self, status, json.dumps(body).encode())

    def do_GET(self) -> None:  # nothing is served by GET (a health probe asks the origin)
        answer_json(self, 404, b'{"error": "not found"}')


class AuthService(StubServer):
    def __init__(self, hold_max_s: float = 3.0) -> None:
        self.valid: dict[str, tuple[str, str]] = {}  # token -> (user id, tenant id) it vouches for
        self.received: list[Received] = []
        self.mode = "ok"  # ok | failing | hanging
        self._lock = threading.Lock()
        super().__init__(_Handler, hold_max_s)

    def validate(self, path: str, authorization: str) -> tuple[int, dict[str, object]]:
        """Record a request; the status and body that answer it."""
        with self._lock:
            self.received.append(Received("POST", path, authorization))
            mode = self.mode
        if mode == "hanging":
            self.hold()
        scheme, _, token = authorization.partition(" ")
        user = self.valid.get(token) if scheme == "Bearer" else None
        if mode == "failing":
            return 500, {"error": "internal"}
        if path != "/auth/validate":
            return 404, {"error": "not found"}
        if user is None:
            return 401, {"valid": False}
        return 200, {"valid": True, "user": {"id": user[0], "tenantId": user[1]}}

    @property
    def url(self) -> str:
        return self.origin

    @property
    def calls(self) -> int:
        with self._lock:
            return len(self.received)

    def accept(self, token: str, user_id: str, tenant_id: str) -> None:
        self.valid[token] = (user_id, tenant_id)

    def revoke(self, token: str) -> None:
        self.valid.pop(token, None)
