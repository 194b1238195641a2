"""Every use of aiohttp's private interfaces, in one place (aiohttp's version is bounded in pyproject.toml).

API Gateway limits single frames (32 KB) as well as messages; aiohttp limits only whole messages
(``max_msg_size``). :class:`LimitedWebSocketResponse` puts a :class:`FrameLimitedParser` in front of the parser
aiohttp made for the connection: that needs ``WebSocketResponse._post_start``, the request handler's
``_payload_parser`` and the response's ``_reader`` queue.
"""

from __future__ import annotations

from typing import Any

from aiohttp import WebSocketError, WSCloseCode, web


class LimitedWebSocketResponse(web.WebSocketResponse):
    """aiohttp's WebSocket response with API Gateway's frame size limit enforced on incoming frames."""

    __slots__ = ("_frame_limit",)

    def __init__(self, *, frame_limit: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frame_limit = frame_limit

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        handler: Any = request.protocol
        parser = handler._payload_parser
        if parser is not None and self._frame_limit > 0:
            handler._payload_parser = FrameLimitedParser(parser, self._frame_limit, self)


class FrameLimitedParser:
    """In front of aiohttp's WebSocket parser: reads only frame headers, and fails the connection with 1009 as soon
    as a data frame announces a payload above ``limit`` (aiohttp limits whole messages, not single frames)."""

    __slots__ = ("_failed", "_header", "_inner", "_limit", "_owner", "_skip")

    def __init__(self, inner: Any, limit: int, owner: Any) -> None:
        self._inner = inner
        self._limit = limit
        self._owner = owner
        self._header = b""
        self._skip = 0
        self._failed = False

    def feed_eof(self) -> Any:
        return self._inner.feed_eof()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if self._failed:
            return False, b""
        if self._oversized(data):
            self._failed = True
            error = WebSocketError(WSCloseCode.MESSAGE_TOO_BIG, f"Frame exceeds {self._limit} bytes")
            queue = getattr(self._owner, "_reader", None)  # the response's message queue
            if queue is not None:
                queue.set_exception(error)
            return False, b""
        result: tuple[bool, bytes] = self._inner.feed_data(data)
        return result

    def _oversized(self, data: bytes) -> bool:
        position, size = 0, len(data)
        while position < size:
            if self._skip:
                taken = min(self._skip, size - position)
                self._skip -= taken
                position += taken
                continue
            header = self._header
            if len(header) < 2:
                taken = min(2 - len(header), size - position)
                header += data[position : position + taken]
                position += taken
                self._header = header
                if len(header) < 2:
                    return False
            short = header[1] & 0x7F
            extended = 2 if short == 126 else 8 if short == 127 else 0
            needed = 2 + extended + (4 if header[1] & 0x80 else 0)
            if len(header) < needed:
                taken = min(needed - len(header), size - position)
                header += data[position : position + taken]
                position += taken
                self._header = header
                if len(header) < needed:
                    return False
            length = short if not extended else int.from_bytes(header[2 : 2 + extended], "big")
            self._header = b""
            if (header[0] & 0x0F) < 8 and length > self._limit:
                return True
            self._skip = length
        return False
