"""A stand-in for as-call-service (a service we do not own), for the user-action tests.

A threaded HTTP server that records every request (method, raw path, headers, JSON body) and answers with a
configurable status and body per path (default ``200 {"ok": true}``). It can be made slow (every request then
blocks until :attr:`release` is set, which leaving the context does) or stopped (connections refused).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

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


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a slow answer: nothing to report


class CallServiceStub:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.release = threading.Event()
        self.slow = False
        self._answers: dict[str, Answer] = {}
        self._lock = threading.Lock()
        self._running = False
        self._sockets: list[socket.socket] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real service would

            def log_message(self, format: str, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                with stub._lock:
                    stub._sockets.append(self.connection)

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with stub._lock:
                    stub.requests.append(
                        Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, raw)
                    )
                    answer = stub._answers.get(self.path, Answer(200, b'{"ok":true}'))
                    slow = stub.slow
                if slow:
                    stub.release.wait(SLOW_LIMIT_S)
                self.send_response(answer.status)
                if answer.status != 204:
                    self.send_header("Content-Type", answer.content_type)
                    self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if answer.status != 204:
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def answer(self, path: str, status: int, body: Any = None, *, raw: bytes | None = None) -> None:
        """Answer requests to ``path`` (as sent, percent-encoded) with ``status`` and JSON ``body`` (or ``raw``)."""
        content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
        content_type = "application/json" if raw is None else "text/html"
        with self._lock:
            self._answers[path] = Answer(status, content, content_type)

    def recorded(self) -> list[Recorded]:
        with self._lock:
            return list(self.requests)

    def connections(self) -> list[socket.socket]:
        """Every TCP connection accepted so far (keep-alive reuse shows as fewer connections than requests)."""
        with self._lock:
            return list(self._sockets)

    def stop(self) -> None:
        """Go down: the port is closed, connections are refused and kept-alive ones are cut."""
        self.release.set()
        if self._running:
            self._running = False
            self._server.shutdown()
        self._server.server_close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> CallServiceStub:
        self._thread.start()
        self._running = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
