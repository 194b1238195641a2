"""Base of the stand-ins for services we do not own: a threaded HTTP server on a free loopback port that a test
starts, stops (the service is then down: connections refused) and releases (held requests answer)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TypeVar

S = TypeVar("S", bound="StubServer")


def answer_json(handler: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
    """Send a JSON answer; a client that gave up meanwhile (its timeout) is not an error."""
    try:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)
    except OSError:
        pass


class StubServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler], hold_max_s: float = 3.0) -> None:
        self.hold_max_s = hold_max_s
        self._release = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._running = False

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def hold(self) -> None:
        """Hold the current request until :meth:`release` (or ``hold_max_s`` at most)."""
        self._release.wait(self.hold_max_s)

    def release(self) -> None:
        """Let held requests answer now."""
        self._release.set()

    def start(self: S) -> S:
        self._thread.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Down: the port refuses connections from now on."""
        self.release()
        if self._running:
            self._server.shutdown()
            self._running = False
        self._server.server_close()

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
