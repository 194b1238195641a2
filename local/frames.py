"""WebSocket frames (RFC 6455) with API Gateway's limits: 32 KB per frame, 128 KB per message (1009 beyond).

:class:`FrameReader` parses a client's frames for connections the gateway serves itself (no I/O: bytes in,
messages out); :func:`frame` encodes the server's. Connections served by aiohttp get the frame limit from
:mod:`local.aiohttp_internals`.
"""

from __future__ import annotations

from aiohttp import WSCloseCode

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_OPCODES = frozenset({CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG})
# Close codes a peer may send (RFC 6455 7.4; 3000-4999 are for applications).
_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})


class FrameError(Exception):
    """The peer broke the protocol or a limit: close the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def frame(opcode: int, payload: bytes = b"") -> bytes:
    """One final, unmasked frame (what a server sends)."""
    length = len(payload)
    if length < 126:
        header = bytes((0x80 | opcode, length))
    elif length < 0x10000:
        header = bytes((0x80 | opcode, 126)) + length.to_bytes(2, "big")
    else:
        header = bytes((0x80 | opcode, 127)) + length.to_bytes(8, "big")
    return header + payload


def close_frame(code: int, reason: str = "") -> bytes:
    return frame(CLOSE, code.to_bytes(2, "big") + reason.encode()[:123])


def parse_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a close frame's payload; (1005, "") when it carries no status."""
    if not payload:
        return 1005, ""
    if len(payload) < 2:
        raise FrameError(WSCloseCode.PROTOCOL_ERROR, "Invalid close frame")
    code = int.from_bytes(payload[:2], "big")
    if not (code in _CLOSE_CODES or 3000 <= code < 5000):
        raise FrameError(WSCloseCode.PROTOCOL_ERROR, f"Invalid close code: {code}")
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(WSCloseCode.INVALID_TEXT, "Invalid UTF-8 text message") from None


def _unmask(mask: bytes, payload: bytes) -> bytes:
    length = len(payload)
    key = (mask * (length // 4 + 1))[:length]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(length, "big")


class FrameReader:
    """A client's frames, fed as they arrive, read into whole messages.

    :meth:`feed` returns ``(opcode, payload)`` for each complete message (TEXT or BINARY, fragments joined) and
    control frame read, and the :class:`FrameError` that stopped it, if any: a protocol violation, or a limit (a
    data frame over ``frame_limit`` when positive, a message over ``message_limit`` bytes: 1009 as soon as the
    header announces it). After an error, or once :meth:`discard` was called, only close frames are returned and
    everything else is skipped unread, so that a closing connection still sees the client's close frame (feed
    ``b""`` to read on past an error). Nothing is kept between messages but an incomplete frame's bytes.
    """

    __slots__ = ("_discarding", "_fragments", "_frame_limit", "_message_limit", "_opcode", "_pending", "_skip")

    def __init__(self, frame_limit: int, message_limit: int) -> None:
        self._frame_limit = frame_limit
        self._message_limit = message_limit
        self._pending = b""
        self._skip = 0  # bytes of a discarded frame still to come
        self._discarding = False
        self._opcode = 0  # of the fragmented message under way
        self._fragments: list[bytes] | None = None

    def discard(self) -> None:
        self._discarding = True
        self._fragments = None

    def feed(self, data: bytes) -> tuple[list[tuple[int, bytes]], FrameError | None]:
        buffer = self._resume(data)
        size = len(buffer)
        position = 0
        out: list[tuple[int, bytes]] = []
        error: FrameError | None = None
        while size - position >= 2:
            first, second = buffer[position], buffer[position + 1]
            opcode, length, header = first & 0x0F, second & 0x7F, 2
            if length >= 126:
                header = 4 if length == 126 else 10
                if size - position < header:
                    break
                length = int.from_bytes(buffer[position + 2 : position + header], "big")
            end = position + header + (4 if second & 0x80 else 0) + length
            if not self._discarding:
                error = self._check(first, opcode, length)
                if error is not None:
                    self.discard()
                    break
            elif opcode != CLOSE or not first & 0x80 or length > 125:
                position = self._skip_frame(end, size)
                continue
            if end > size:
                break
            payload = buffer[end - length : end]
            if second & 0x80:
                payload = _unmask(buffer[end - length - 4 : end - length], payload)
            position = end
            self._read(out, first, opcode, payload)
        self._pending = buffer[position:] if position < size else b""
        return out, error

    def _resume(self, data: bytes) -> bytes:
        """What to read: an incomplete frame's bytes kept from before, then ``data`` past a skipped frame's rest."""
        if self._skip:
            skipped = min(self._skip, len(data))
            data, self._skip = data[skipped:], self._skip - skipped
        return self._pending + data if self._pending else data

    def _skip_frame(self, end: int, size: int) -> int:
        """Pass over a discarded frame ending at ``end``; where reading goes on (what is not here yet is skipped
        as it arrives)."""
        if end > size:
            self._skip = end - size
            return size
        return end

    def _read(self, out: list[tuple[int, bytes]], first: int, opcode: int, payload: bytes) -> None:
        """A frame read whole: a control frame or a final unfragmented one is a message; fragments are kept until
        the final one."""
        if opcode >= CLOSE:
            out.append((opcode, payload))
        elif not first & 0x80:
            if self._fragments is None:
                self._opcode, self._fragments = opcode, []
            self._fragments.append(payload)
        elif self._fragments is not None:
            self._fragments.append(payload)
            out.append((self._opcode, b"".join(self._fragments)))
            self._opcode, self._fragments = 0, None
        else:
            out.append((opcode, payload))

    def _check(self, first: int, opcode: int, length: int) -> FrameError | None:
        if first & 0x70:
            return FrameError(WSCloseCode.PROTOCOL_ERROR, "Received frame with non-zero reserved bits")
        if opcode not in _OPCODES:
            return FrameError(WSCloseCode.PROTOCOL_ERROR, f"Unexpected opcode={opcode!r}")
        if opcode >= CLOSE:
            if not first & 0x80 or length > 125:
                return FrameError(WSCloseCode.PROTOCOL_ERROR, "Invalid control frame")
            return None
        fragments = self._fragments
        if opcode == CONTINUATION and fragments is None:
            return FrameError(WSCloseCode.PROTOCOL_ERROR, "Continuation frame for non started message")
        if opcode != CONTINUATION and fragments is not None:
            return FrameError(WSCloseCode.PROTOCOL_ERROR, "The opcode in non-fin frame is expected to be continuation")
        if 0 < self._frame_limit < length:
            return FrameError(WSCloseCode.MESSAGE_TOO_BIG, f"Frame exceeds {self._frame_limit} bytes")
        so_far = sum(len(part) for part in fragments) if fragments else 0
        if so_far + length > self._message_limit:
            return FrameError(WSCloseCode.MESSAGE_TOO_BIG, f"Message exceeds {self._message_limit} bytes")
        return None
