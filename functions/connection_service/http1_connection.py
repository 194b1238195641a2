"""One kept-alive HTTP/1.1 client connection (TLS for https) that sends a request and reads its answer's status,
discarding the body; the signed poster keeps many in flight at once from one thread."""

from __future__ import annotations

import select
import socket
import ssl

CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0
_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 1024 * 1024  # an answer's body is discarded; a larger one closes the connection instead


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x this client can read."""


class HttpConnection:
    """One HTTP/1.1 client connection (TLS for https) that sends a request and reads its answer: status, the
    ``x-amzn-ErrorType`` header, and whether the connection may carry another request (the body is discarded).
    Answers are delimited by Content-Length, chunked encoding or, failing both, the server closing."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = b""
        self.reusable = True

    @classmethod
    def open(cls, host: str, port: int, tls: ssl.SSLContext | None) -> HttpConnection:
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=host)
            sock.settimeout(READ_TIMEOUT_S)
        except BaseException:
            sock.close()
            raise
        return cls(sock)

    def close(self) -> None:
        self.reusable = False
        self._sock.close()

    def dropped(self) -> bool:
        """True when an idle connection has something to read: the server closed it (or broke the protocol)."""
        if self._buffer or (isinstance(self._sock, ssl.SSLSocket) and self._sock.pending()):
            return True
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(self._sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([self._sock], [], [], 0)[0])

    def send(self, request: bytes) -> None:
        self._sock.sendall(request)

    def read_response(self) -> tuple[int, str]:
        """(status, ``x-amzn-ErrorType`` or ""). Raises OSError (timeouts, resets) or :class:`ProtocolError`."""
        while True:
            version, status, headers = self._read_head()
            if not 100 <= status < 200:
                break
        connection = {token.strip() for token in headers.get("connection", "").lower().split(",")}
        self.reusable = "close" not in connection and (version == "HTTP/1.1" or "keep-alive" in connection)
        if status in (204, 304):
            pass
        elif "transfer-encoding" in headers:
            if headers["transfer-encoding"].lower().rsplit(",", 1)[-1].strip() != "chunked":
                self._discard_until_close()
            else:
                self._discard_chunked()
        elif "content-length" in headers:
            length = headers["content-length"]
            if not length.isdigit():
                raise ProtocolError(f"bad Content-Length {length[:20]!r}")
            if int(length) > _MAX_BODY_BYTES:
                self.reusable = False  # not worth reading: the connection is closed instead
            else:
                self._discard(int(length))
        else:
            self._discard_until_close()
        return status, headers.get("x-amzn-errortype", "")

    def _fill(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        self._buffer += chunk

    def _read_line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if len(self._buffer) > _MAX_HEAD_BYTES:
                raise ProtocolError("line too long")
            self._fill()
        line, self._buffer = self._buffer[:end], self._buffer[end + 2 :]
        return line

    def _read_head(self) -> tuple[str, int, dict[str, str]]:
        while (end := self._buffer.find(b"\r\n\r\n")) < 0 and len(self._buffer) <= _MAX_HEAD_BYTES:
            self._fill()
        if not 0 <= end <= _MAX_HEAD_BYTES:
            raise ProtocolError("response head too long")
        head, self._buffer = self._buffer[:end].decode("latin-1"), self._buffer[end + 4 :]
        status_line, *lines = head.split("\r\n")
        version, _, rest = status_line.partition(" ")
        code = rest[:3]
        if version not in ("HTTP/1.1", "HTTP/1.0") or not code.isdigit():
            raise ProtocolError(f"bad status line {status_line[:40]!r}")
        headers = {}
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon:
                raise ProtocolError(f"bad header line {line[:40]!r}")
            headers[name.lower()] = value.strip()
        return version, int(code), headers

    def _discard(self, length: int) -> None:
        while len(self._buffer) < length:
            length -= len(self._buffer)
            self._buffer = b""
            self._fill()
        self._buffer = self._buffer[length:]

    def _discard_chunked(self) -> None:
        while True:
            size = self._read_line().split(b";", 1)[0].strip()
            try:
                length = int(size, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size {size[:20]!r}") from None
            if length == 0:
                while self._read_line():  # trailers, up to the empty line
                    pass
                return
            if length > _MAX_BODY_BYTES:
                self.reusable = False
                return
            self._discard(length + 2)

    def _discard_until_close(self) -> None:
        self.reusable = False
        received = len(self._buffer)
        while received <= _MAX_BODY_BYTES and (chunk := self._sock.recv(65536)):
            received += len(chunk)
        self._buffer = b""
