"""Base of the stand-ins for services we do not own: a threaded server on a free loopback port that a test starts,
stops (the service is then down: connections refused, kept-alive ones cut) and releases (held requests answer).

Each stand-in is only its behaviour: a request handler (an HTTP one: :class:`QuietHandler`) that finds its
stand-in with :func:`stand_in`.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar

S = TypeVar("S", bound="StubServer")


class QuietHandler(BaseHTTPRequestHandler):
    """An HTTP handler that logs nothing and sends each segment at once (TCP_NODELAY: a head and a body written
    apart do not wait for the client's delayed ACK)."""

    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:
        pass


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


def stand_in(handler: socketserver.BaseRequestHandler, kind: type[S]) -> S:
    """The stand-in whose server runs ``handler``."""
    server = handler.server
    assert isinstance(server, _Server)
    found = server.stand_in
    assert isinstance(found, kind)
    return found


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # A client that opens many connections at once (the poster: one per request in flight) overflows the
    # default backlog of 5, and the kernel answers an overflowed handshake only after a 1 s retransmission.
    request_queue_size = 128

    def __init__(self, handler: type[socketserver.BaseRequestHandler], owner: StubServer) -> None:
        self.stand_in = owner
        super().__init__(("127.0.0.1", 0), handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        self.stand_in._accepted(request)
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):  # a client that gave up on a held answer is no error
            super().handle_error(request, client_address)


class StubServer:
    scheme = "http"

    def __init__(self, handler: type[socketserver.BaseRequestHandler], hold_max_s: float = 3.0) -> None:
        self.hold_max_s = hold_max_s
        self._release = threading.Event()
        self._sockets_lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._server = _Server(handler, self)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._running = False

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def hold(self) -> None:
        """Hold the current request until :meth:`release` (or ``hold_max_s`` at most)."""
        self._release.wait(self.hold_max_s)

    def release(self) -> None:
        """Let held requests answer now."""
        self._release.set()

    def connections(self) -> list[socket.socket]:
        """Every TCP connection accepted so far (keep-alive reuse shows as fewer connections than requests)."""
        with self._sockets_lock:
            return list(self._sockets)

    def _accepted(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.append(sock)

    def start(self: S) -> S:
        self._thread.start()
        self._running = True
        return self

    def stop(self) -> None:
        """Down: the port refuses connections from now on, and kept-alive connections are cut."""
        self.release()
        if self._running:
            self._server.shutdown()
            self._running = False
        self._server.server_close()
        for sock in self.connections():
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self: S) -> S:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
