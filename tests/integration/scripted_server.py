"""A scripted HTTP/1.1 server (keep-alive, like API Gateway's ``@connections`` endpoint) for the poster's tests:
each request to ``…/@connections/<id>`` gets the next reply scripted for that id, else 200."""

from __future__ import annotations

import collections
import re
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
GONE = b'HTTP/1.1 410 Gone\r\nx-amzn-ErrorType: GoneException\r\nContent-Length: 16\r\n\r\n{"message":null}'


@dataclass
class Reply:
    raw: bytes | None = OK  # None: close without answering
    close: bool = False  # close the connection after answering (without saying so)
    delay_s: float = 0.0


class ScriptedServer:
    """An HTTP/1.1 server that answers each request with the next reply scripted for its connection id (default:
    200), and counts connections: accepted in all, and open at most at once."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._tls = tls
        self._lock = threading.Lock()
        self.replies: dict[str, collections.deque[Reply]] = collections.defaultdict(collections.deque)
        self.posted: list[tuple[str, bytes]] = []
        self.accepted = 0
        self.open = 0
        self.max_open = 0
        self.closed = threading.Event()  # set each time the server closes a connection
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def endpoint(self, host: str = "127.0.0.1") -> str:
        return f"{'https' if self._tls else 'http'}://{host}:{self.port}/dev"

    def script(self, connection_id: str, *replies: Reply) -> None:
        self.replies[connection_id].extend(replies)

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        with self._lock:
            self.accepted += 1
            self.open += 1
            self.max_open = max(self.max_open, self.open)
        try:
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_side=True)
            self._answer_requests(sock)
        except OSError:
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
            time.sleep(reply.delay_s)
            if reply.raw is None:
                return
            sock.sendall(reply.raw)
            if reply.close:
                return
