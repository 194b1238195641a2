"""A stand-in for as-call-service (a service we do not own), for the user-action tests.

A threaded HTTP server that records every request (method, raw path, headers, JSON body) and answers with a
configurable status and body per path (default ``200 {"ok": true}``). It can be made slow (every request then
blocks until :meth:`release`, which stopping does) or stopped (connections refused).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from tests.support.stub_server import QuietHandler, StubServer, stand_in

SLOW_LIMIT_S = 60.0  # a slow answer never outlives a forgotten teardown by more than this


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw) if self.raw else None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "application/json"


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real service would

    def _handle(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        stub = stand_in(self, CallServiceStub)
        answer = stub.received(Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw))
        self.send_response(answer.status)
        if answer.status != 204:
            self.send_header("Content-Type", answer.content_type)
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.status != 204:
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle


class CallServiceStub(StubServer):
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.slow = False
        self._answers: dict[str, Answer] = {}
        self._lock = threading.Lock()
        super().__init__(_Handler, SLOW_LIMIT_S)

    @property
    def url(self) -> str:
        return self.origin

    def received(self, request: Recorded) -> Answer:
        """Record a request; the answer for it, once released if the stub is slow."""
        with self._lock:
            self.requests.append(request)
            answer = self._answers.get(request.path, Answer(200, b'{"ok":true}'))
            slow = self.slow
        if slow:
            self.hold()
        return answer

    def answer(self, path: str, status: int, body: Any = None, *, raw: bytes | None = None) -> None:
        """Answer requests to ``path`` (as sent, percent-encoded) with ``status`` and JSON ``body`` (or ``raw``)."""
        content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        content_type = "application/json" if raw is None else "text/html"
        with self._lock:
            self._answers[path] = Answer(status, content, content_type)

    def recorded(self) -> list[Recorded]:
        with self._lock:
            return list(self.requests)
