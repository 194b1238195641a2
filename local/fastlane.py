"""The gateway's listening port, with a fast lane for the fan-out's hot path.

A broadcast costs one PostToConnection per recipient, so in a large fan-out the gateway spends most of its time
answering them. Every accepted connection starts here. A plain PostToConnection (``POST /{stage}/@connections/{id}``
over HTTP/1.1 with a ``Content-Length`` body within the limit, no fault rules in force) is answered directly,
without a web framework's per-request machinery. A plain WebSocket handshake becomes a connection the gateway
serves itself (:meth:`local.websocket.WebSocketService.upgrade`). The first request that is anything else (any
other route, method or stage, chunked bodies, ``Expect``, HTTP/1.0, an ``Origin`` or a foreign ``Host`` (refused
there: see :mod:`local.guard`), anything unusual or malformed) hands the connection over, with every byte not yet
answered, to aiohttp's server, which serves it from then on with the whole application: the fast lane never has to
get an edge case right, it only recognises the common ones.
"""

from __future__ import annotations

import asyncio
import socket
import time
import weakref
from collections.abc import Callable
from email.utils import formatdate
from typing import cast

from local.guard import LocalOnly
from local.ids import gateway_id
from local.management import ManagementService

MAX_HEAD_BYTES = 8 * 1024
_REFUSE = frozenset({b"transfer-encoding", b"expect", b"upgrade", b"origin"})


class _Date:
    """The ``Date`` header's value, formatted once a second."""

    def __init__(self) -> None:
        self._second = 0
        self._value = b""

    def __call__(self) -> bytes:
        now = int(time.time())
        if now != self._second:
            self._second, self._value = now, formatdate(now, usegmt=True).encode()
        return self._value


_date = _Date()


def _answer(ok: bool) -> bytes:
    """API Gateway's answer to PostToConnection: 200 with no body, or 410 typed GoneException."""
    status = b"200 OK" if ok else b"410 Gone\r\nx-amzn-ErrorType: GoneException"
    return (
        b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\nContent-Length: 0\r\nDate: " + _date()
        + b"\r\nx-amzn-RequestId: " + gateway_id().encode() + b"\r\n\r\n"
    )  # fmt: skip


def _post_headers(header_block: bytes) -> tuple[int | None, str | None, bool] | None:
    """(``Content-Length``, ``Host``, ``Connection: close``) of a request head's header lines; None for a malformed
    line, a repeated or non-numeric length, or a header the fast lane leaves to aiohttp."""
    length: int | None = None
    host: str | None = None
    close = False
    for line in header_block.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon:
            return None
        name = name.strip().lower()
        if name == b"content-length":
            value = value.strip()
            if length is not None or not value.isdigit():
                return None
            length = int(value)
        elif name in _REFUSE:
            return None
        elif name == b"connection":
            close = value.strip().lower() == b"close"
        elif name == b"host":
            host = value.decode("latin-1")
    return length, host, close


class FastLane(asyncio.Protocol):
    """One accepted connection: PostToConnection answered here, anything else handed to ``fallback()``'s protocol."""

    def __init__(
        self,
        fallback: Callable[[], asyncio.Protocol],
        management: ManagementService,
        local_only: LocalOnly,
        live: weakref.WeakSet[FastLane],
    ) -> None:
        self.fallback = fallback
        self.management = management
        self.local_only = local_only
        stages = [f"/{stage}/@connections/".encode() for stage in management.stages if stage]
        self.prefixes = (*stages, b"/@connections/")
        self.buffer = bytearray()
        self.busy = False
        self.handed_off = False
        self.transport: asyncio.Transport | None = None
        config = management.gw.config
        self.header_timeout, self.idle_timeout = config.header_timeout, config.http_idle_timeout
        self.deadline = time.monotonic() + self.header_timeout
        live.add(self)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if not self.buffer:  # a request begins: its head (and body) must arrive in time
            self.deadline = time.monotonic() + self.header_timeout
        self.buffer += data
        self._serve()

    def close(self) -> None:
        if self.transport is not None and not self.handed_off:
            self.transport.close()

    def expired(self, now: float) -> bool:
        """Idle past the keep-alive timeout, or a request still incomplete past the header timeout (slowloris)."""
        return not self.busy and not self.handed_off and self.transport is not None and now > self.deadline

    def _serve(self) -> None:
        buffer = self.buffer
        while not self.busy and buffer:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    self._hand_off()
                return
            head = bytes(buffer[:end])
            request = self._recognise(head)
            if request is None:
                transport = self.transport
                assert transport is not None
                if self.management.ws.upgrade(transport, head, bytes(buffer[end + 4 :])):
                    self.handed_off = True
                    self.buffer = bytearray()
                    return
                self._hand_off()
                return
            connection_id, length, close = request
            total = end + 4 + length
            if len(buffer) < total:
                return
            body = bytes(buffer[end + 4 : total])
            del buffer[:total]
            self.busy = True
            asyncio.get_running_loop().create_task(self._post(connection_id, body, close))

    def _recognise(self, head: bytes) -> tuple[str, int, bool] | None:
        """(connection id, body length, close after) of a plain PostToConnection; None for anything else."""
        request_line, _, header_block = head.partition(b"\r\n")
        connection_id = self._connection_id(request_line)
        if connection_id is None:
            return None
        headers = _post_headers(header_block)
        if headers is None:
            return None
        length, host, close = headers
        gateway = self.management.gw
        if length is None or length > gateway.config.post_limit or gateway.faults:
            return None
        if not self.local_only.host_allowed(host):
            return None
        return connection_id, length, close

    def _connection_id(self, request_line: bytes) -> str | None:
        """The id of ``POST /{stage}/@connections/{id} HTTP/1.1`` (a plain one: ASCII, no ``/``, ``?`` or ``#``)."""
        parts = request_line.split(b" ")
        if len(parts) != 3 or parts[0] != b"POST" or parts[2] != b"HTTP/1.1":
            return None
        path = parts[1]
        prefix = next((p for p in self.prefixes if path.startswith(p)), None)
        if prefix is None:
            return None
        raw_id = path[len(prefix) :]
        if not raw_id or not raw_id.isascii() or any(c in raw_id for c in b"/?#"):
            return None
        return raw_id.decode("ascii")

    async def _post(self, connection_id: str, body: bytes, close: bool) -> None:
        delivered = await self.management.deliver(connection_id, body)
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(_answer(delivered))
        if close:
            transport.close()
            return
        self.busy = False
        self.deadline = time.monotonic() + (self.header_timeout if self.buffer else self.idle_timeout)
        self._serve()

    def _hand_off(self) -> None:
        assert self.transport is not None
        self.handed_off = True
        protocol = self.fallback()
        self.transport.set_protocol(protocol)
        protocol.connection_made(self.transport)
        pending, self.buffer = bytes(self.buffer), bytearray()
        if pending:
            protocol.data_received(pending)

    def eof_received(self) -> bool | None:
        return None  # close the transport (a half-closed client gets no more answers)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
