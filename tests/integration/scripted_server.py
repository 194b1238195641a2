"""A scripted HTTP/1.1 server (keep-alive, like API Gateway's ``@connections`` endpoint) for the poster's tests:
each request to ``…/@connections/<id>`` gets the next reply scripted for that id, else 200."""

from __future__ import annotations

import collections
import re
import socket
import socketserver
import ssl
import threading
import urllib.parse
from dataclasses import dataclass

from tests.support.stub_server import StubServer, stand_in

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
GONE = b'HTTP/1.1 410 Gone\r\nx-amzn-ErrorType: GoneException\r\nContent-Length: 16\r\n\r\n{"message":null}'
HOLD_MAX_S = 10.0  # a held reply never outlives a forgotten release by more than this


@dataclass
class Reply:
    raw: bytes | None = OK  # None: close without answering
    close: bool = False  # close the connection after answering (without saying so)
    together: threading.Barrier | None = None  # answer once as many requests as the barrier's parties are held
    after_hang_up: bool = False  # a peer too slow for the client: answer only once the client has hung up


class _Handler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        stand_in(self, ScriptedServer).serve(self.request)


class ScriptedServer(StubServer):
    """An HTTP/1.1 server that answers each request with the next reply scripted for its connection id (default:
    200), and counts connections: accepted in all, and open at most at once. It serves from construction on."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._tls = tls
        self.scheme = "https" if tls else "http"
        self._lock = threading.Lock()
        self.replies: dict[str, collections.deque[Reply]] = collections.defaultdict(collections.deque)
        self.posted: list[tuple[str, bytes]] = []
        self.accepted = 0
        self.open = 0
        self.max_open = 0
        self.closed = threading.Event()  # set each time the server closes a connection
        super().__init__(_Handler, HOLD_MAX_S)
        self.start()

    def endpoint(self, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}/dev"

    def script(self, connection_id: str, *replies: Reply) -> None:
        self.replies[connection_id].extend(replies)

    def close(self) -> None:
        self.stop()

    def serve(self, sock: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
            self.open += 1
            self.max_open = max(self.max_open, self.open)
        try:
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_side=True)
            self._answer_requests(sock)
        except (OSError, threading.BrokenBarrierError):
            pass
        finally:
            with self._lock:
                self.open -= 1
            sock.close()
            self.closed.set()

    def _answer_requests(self, sock: socket.socket) -> None:
        buffer = b""
        while True:
            while b"\r\n\r\n" not in buffer:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                buffer += chunk
            head, _, buffer = buffer.partition(b"\r\n\r\n")
            found = re.search(rb"(?im)^content-length: *(\d+)", head)
            length = int(found.group(1)) if found else 0
            while len(buffer) < length:
                buffer += sock.recv(65536)
            body, buffer = buffer[:length], buffer[length:]
            connection_id = urllib.parse.unquote(head.split(b" ")[1].decode().rsplit("/", 1)[-1])
            with self._lock:
                self.posted.append((connection_id, body))
                queued = self.replies.get(connection_id)
                reply = queued.popleft() if queued else Reply()
            if reply.together is not None:
                reply.together.wait(self.hold_max_s)
            if reply.after_hang_up:
                sock.settimeout(self.hold_max_s)
                while sock.recv(65536):
                    pass
            if reply.raw is None:
                return
            sock.sendall(reply.raw)
            if reply.close:
                return
