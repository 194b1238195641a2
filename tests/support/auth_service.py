"""A stand-in for ts-auth-service's token validation (a service we do not own), for integration tests.

``POST /auth/validate`` with ``Authorization: Bearer <token>`` answers 200 ``{"valid": true, "user": {"id",
"tenantId"}}`` for tokens it was told are valid, 401 ``{"valid": false}`` for any other. It counts calls (to
prove the cache), records what it received, and can misbehave: stopped (connection refused), ``failing`` (500),
``hanging`` (holds each request until released, or ``hold_max_s`` at most, then answers normally).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.support.stub_server import StubServer, answer_json


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    authorization: str


class AuthService(StubServer):
    def __init__(self, hold_max_s: float = 3.0) -> None:
        self.valid: dict[str, tuple[str, str]] = {}  # token -> (user id, tenant id) it vouches for
        self.received: list[Received] = []
        self.mode = "ok"  # ok | failing | hanging
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                authorization = self.headers.get("Authorization", "")
                with service._lock:
                    service.received.append(Received("POST", self.path, authorization))
                    mode = service.mode
                if mode == "hanging":
                    service.hold()
                scheme, _, token = authorization.partition(" ")
                user = service.valid.get(token) if scheme == "Bearer" else None
                if mode == "failing":
                    status, body = 500, {"error": "internal"}
                elif self.path != "/auth/validate":
                    status, body = 404, {"error": "not found"}
                elif user is None:
                    status, body = 401, {"valid": False}
                else:
                    status, body = 200, {"valid": True, "user": {"id": user[0], "tenantId": user[1]}}
                answer_json(self, status, json.dumps(body).encode())

        super().__init__(Handler, hold_max_s)

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
