"""``local.aiohttp_internals``: the private aiohttp interfaces it relies on are there in the installed aiohttp, and
the frame limit in front of aiohttp's parser refuses a data frame from its header, however the bytes arrive."""

from __future__ import annotations

import inspect
import struct
from typing import Any

import pytest
from aiohttp import WebSocketError, web, web_protocol

from local.aiohttp_internals import FrameLimitedParser

LIMIT = 1024


def test_the_private_interfaces_used_are_in_the_installed_aiohttp() -> None:
    assert list(inspect.signature(web.WebSocketResponse._post_start).parameters) == [
        "self",
        "request",
        "protocol",
        "writer",
    ]
    assert "_payload_parser" in web_protocol.RequestHandler.__slots__
    assert web.WebSocketResponse()._reader is None  # the message queue, made by prepare()


class _Parser:
    """aiohttp's WebSocket parser's part: what it was fed."""

    def __init__(self) -> None:
        self.fed = b""

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.fed += data
        return False, b""


class _Queue:
    def __init__(self) -> None:
        self.error: BaseException | None = None

    def set_exception(self, error: BaseException) -> None:
        self.error = error


class _Response:
    def __init__(self) -> None:
        self._reader = _Queue()


def _header(opcode: int, length: int) -> bytes:
    if length < 126:
        return struct.pack("!BB", 0x80 | opcode, 0x80 | length) + b"mask"
    return struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length) + b"mask"


def _feed(parser: FrameLimitedParser, data: bytes, step: int) -> list[tuple[bool, bytes]]:
    return [parser.feed_data(data[i : i + step]) for i in range(0, len(data), step)]


@pytest.mark.parametrize("step", [1, 3, 10_000])
def test_frames_within_the_limit_pass_through_untouched(step: int) -> None:
    inner, owner = _Parser(), _Response()
    parser = FrameLimitedParser(inner, LIMIT, owner)
    data = _header(0x1, LIMIT) + b"x" * LIMIT + _header(0x9, 5) + b"ping!" + _header(0x1, 0)
    _feed(parser, data, step)
    assert inner.fed == data
    assert owner._reader.error is None


@pytest.mark.parametrize("step", [1, 3, 10_000])
def test_a_data_frame_over_the_limit_fails_the_connection_with_1009(step: int) -> None:
    inner, owner = _Parser(), _Response()
    parser = FrameLimitedParser(inner, LIMIT, owner)
    first = _header(0x1, 3) + b"abc"
    results = _feed(parser, first + _header(0x2, LIMIT + 1) + b"y" * 10, step)
    assert results[-1] == (False, b"")
    error = owner._reader.error
    assert isinstance(error, WebSocketError) and error.code == 1009
    assert not inner.fed.endswith(b"y")  # nothing of the oversized frame reached aiohttp's parser
    assert parser.feed_data(b"more") == (False, b"") and not inner.fed.endswith(b"more")


def test_anything_else_is_aiohttp_parser_s_own() -> None:
    inner: Any = _Parser()
    inner.queue = "aiohttp's"
    assert FrameLimitedParser(inner, LIMIT, _Response()).queue == "aiohttp's"
