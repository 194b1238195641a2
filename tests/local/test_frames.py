"""``local.frames``: the client frame reader of the connections the gateway serves itself, and the server's frames."""

from __future__ import annotations

import os
import struct

import pytest

from local.frames import (
    BINARY,
    CLOSE,
    CONTINUATION,
    PING,
    PONG,
    TEXT,
    FrameError,
    FrameReader,
    close_frame,
    frame,
    parse_close,
)

KB = 1024


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, mask: bool = True, rsv: int = 0) -> bytes:
    first = (0x80 if fin else 0) | rsv | opcode
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", first, length)
    elif length < 0x10000:
        header = struct.pack("!BBH", first, 126, length)
    else:
        header = struct.pack("!BBQ", first, 127, length)
    if not mask:
        return header + payload
    key = os.urandom(4)
    return (
        bytes((header[0], header[1] | 0x80)) + header[2:] + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    )


def read_all(reader: FrameReader, data: bytes, step: int = 0) -> list[tuple[int, bytes]]:
    """Feed ``data`` whole (``step`` 0) or ``step`` bytes at a time; fail on an error."""
    chunks = [data] if not step else [data[i : i + step] for i in range(0, len(data), step)]
    out: list[tuple[int, bytes]] = []
    for chunk in chunks:
        messages, error = reader.feed(chunk)
        assert error is None
        out += messages
    return out


STREAM = (
    client_frame(TEXT, b"")
    + client_frame(TEXT, "héllo".encode())
    + client_frame(TEXT, b"a" * 125, mask=False)
    + client_frame(TEXT, b"b" * 126)
    + client_frame(BINARY, b"c" * 65536)
    + client_frame(TEXT, b"one ", fin=False)
    + client_frame(PING, b"between")
    + client_frame(CONTINUATION, b"two ", fin=False)
    + client_frame(CONTINUATION, b"three")
    + client_frame(CLOSE, struct.pack("!H", 1000) + b"bye")
)
EXPECTED = [
    (TEXT, b""),
    (TEXT, "héllo".encode()),
    (TEXT, b"a" * 125),
    (TEXT, b"b" * 126),
    (BINARY, b"c" * 65536),
    (PING, b"between"),
    (TEXT, b"one two three"),
    (CLOSE, struct.pack("!H", 1000) + b"bye"),
]


@pytest.mark.parametrize("step", [0, 1, 2, 3, 7, 4096])
def test_frames_are_read_however_the_bytes_arrive(step: int) -> None:
    assert read_all(FrameReader(0, 128 * KB), STREAM, step) == EXPECTED


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (client_frame(TEXT, b"x", rsv=0x40), 1002),
        (client_frame(0x3, b"x"), 1002),
        (client_frame(PING, b"x", fin=False), 1002),
        (client_frame(PING, b"x" * 126), 1002),
        (client_frame(CONTINUATION, b"x"), 1002),
        (client_frame(TEXT, b"x", fin=False) + client_frame(TEXT, b"y"), 1002),
        (client_frame(TEXT, b"x" * (32 * KB + 1)), 1009),
        (client_frame(TEXT, b"x" * (32 * KB), fin=False) + client_frame(CONTINUATION, b"x" * (32 * KB)), 1009),
    ],
    # Named, not by the frames' bytes: their masks are random, and every xdist worker must collect the same ids.
    ids=[
        "reserved-bit",
        "reserved-opcode",
        "fragmented-control",
        "long-control",
        "stray-continuation",
        "message-inside-fragments",
        "frame-too-big",
        "message-too-big",
    ],
)
def test_violations_and_limits_stop_the_reader_with_their_code(data: bytes, code: int) -> None:
    messages, error = FrameReader(32 * KB, 48 * KB).feed(data)
    assert messages == []
    assert error is not None and error.code == code


def test_an_oversized_frame_is_refused_from_its_header_alone() -> None:
    header = client_frame(TEXT, b"x" * (40 * KB))[:8]
    _, error = FrameReader(32 * KB, 128 * KB).feed(header)
    assert error is not None and (error.code, error.reason) == (1009, "Frame exceeds 32768 bytes")


def test_messages_before_an_error_are_returned_and_a_close_after_it_is_still_read() -> None:
    reader = FrameReader(32 * KB, 128 * KB)
    big = client_frame(TEXT, b"x" * (40 * KB))
    close = client_frame(CLOSE, struct.pack("!H", 1000))
    messages, error = reader.feed(client_frame(TEXT, b"first") + big[:1000])
    assert messages == [(TEXT, b"first")] and error is not None and error.code == 1009
    assert reader.feed(b"") == ([], None)
    assert reader.feed(big[1000:20000]) == ([], None)  # the refused frame is skipped, not kept
    rest = big[20000:] + client_frame(TEXT, b"ignored") + client_frame(0x3, b"junk", rsv=0x70) + close
    assert reader.feed(rest) == ([(CLOSE, struct.pack("!H", 1000))], None)


def test_discard_keeps_only_close_frames() -> None:
    reader = FrameReader(32 * KB, 128 * KB)
    reader.discard()
    data = client_frame(TEXT, b"x", fin=False) + client_frame(PING, b"p") + client_frame(CLOSE, b"")
    assert read_all(reader, data, 1) == [(CLOSE, b"")]


def test_server_frames_are_final_and_unmasked() -> None:
    for size in (0, 125, 126, 65535, 65536):
        data = frame(TEXT, b"x" * size)
        assert read_all(FrameReader(0, 1 << 20), data) == [(TEXT, b"x" * size)]
        assert data[0] == 0x81 and not data[1] & 0x80
    assert frame(PONG, b"p") == b"\x8a\x01p"
    assert close_frame(1001, "Going away") == b"\x88\x0c\x03\xe9Going away"
    assert len(close_frame(1000, "é" * 100)) == 2 + 2 + 123


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (b"", (1005, "")),
        (struct.pack("!H", 1000) + "bye ✓".encode(), (1000, "bye ✓")),
        (struct.pack("!H", 4000), (4000, "")),
    ],
)
def test_close_payloads(payload: bytes, expected: tuple[int, str]) -> None:
    assert parse_close(payload) == expected


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"\x03", 1002),
        (struct.pack("!H", 1005), 1002),
        (struct.pack("!H", 999), 1002),
        (struct.pack("!H", 5000), 1002),
        (struct.pack("!H", 1000) + b"\xff", 1007),
    ],
)
def test_invalid_close_payloads(payload: bytes, code: int) -> None:
    with pytest.raises(FrameError) as invalid:
        parse_close(payload)
    assert invalid.value.code == code
