"""``PostToConnection``, the fan-out's hot path: SigV4-signed HTTP/1.1 POSTs, many in flight from one thread.

API Gateway has no multicast, so a broadcast costs one management-API call per recipient. botocore's generic
client spends ~0.8 ms of CPU on such a call, its SigV4Auth over urllib3 ~0.25 ms; this path ~0.03 ms. It sends
the request boto3's ``post_to_connection`` sends (same URL encoding, same SigV4 signature for ``execute-api``),
keeps up to ``concurrency`` requests in flight on as many kept-alive connections (one request per connection at
a time, answers read in order: no threads), and retries like botocore's standard mode: throttling, 5xx and
connection errors, exponential backoff with full jitter, four attempts in all.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import select
import socket
import ssl
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from .errors import ConnectionGone, DeliveryFailed

MAX_ATTEMPTS = 4
_RETRYABLE = frozenset({429, 500, 502, 503, 504})
CONNECT_TIMEOUT_S = 2.0
READ_TIMEOUT_S = 5.0
_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 1024 * 1024  # an answer's body is discarded; a larger one closes the connection instead
_PATH_CACHE_SIZE = 10_000  # connection ids whose (percent-encoded) paths are kept: a tenant's recipients recur

Outcome = ConnectionGone | DeliveryFailed | None  # None: delivered


def backoff_delay(attempt: int, throttled: bool, rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff before retry ``attempt`` (1-based), capped at 2 s."""
    base = 0.2 if throttled else 0.05
    cap: float = min(2.0, base * 2.0 ** (attempt - 1))
    return rand() * cap


def percent_encode(value: str) -> str:
    """A path segment as botocore encodes it (``botocore.utils.percent_encode``): UTF-8, RFC 3986 unreserved kept."""
    return urllib.parse.quote(value.encode(), safe="-._~")


def remove_dot_segments(path: str) -> str:
    """RFC 3986's dot-segment removal, consecutive slashes collapsed too (``botocore.utils.normalize_url_path``)."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and kept else ""
    return first + "/".join(kept) + last


def canonical_uri(path: str) -> str:
    """SigV4's canonical URI of a request path, as botocore's SigV4Auth computes it (non-S3: encoded twice)."""
    return urllib.parse.quote(remove_dot_segments(path), safe="/~")


def host_header(origin: str) -> str:
    """The ``Host`` botocore signs for ``origin``: lower case, IPv6 in brackets, a default port left out."""
    parts = urllib.parse.urlsplit(origin)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    """Credentials that never change, shaped like botocore's (``get_frozen_credentials()``)."""

    access_key: str
    secret_key: str
    token: str | None = None

    def get_frozen_credentials(self) -> StaticCredentials:
        return self


def environment_credentials(environ: Mapping[str, str] = os.environ) -> StaticCredentials | None:
    """The credentials botocore's first provider reads (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, then
    ``AWS_SECURITY_TOKEN`` or ``AWS_SESSION_TOKEN``), as Lambda sets them for the life of an environment. None
    when incomplete or set to expire (``AWS_CREDENTIAL_EXPIRATION``): botocore's chain decides then."""
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key or not secret_key or environ.get("AWS_CREDENTIAL_EXPIRATION"):
        return None
    token = environ.get("AWS_SECURITY_TOKEN") or environ.get("AWS_SESSION_TOKEN") or None
    return StaticCredentials(access_key, secret_key, token)


class SigV4Signer:
    """The SigV4 headers botocore's ``SigV4Auth`` adds to a POST without query string or other signed headers
    (tests hold them byte-identical), computed directly: the signing key is derived once per day and secret, not
    on every request. Credentials (:class:`StaticCredentials` or botocore's) are read once per request with
    ``get_frozen_credentials()``, so refreshable credentials refresh and a request never mixes the parts of two
    generations."""

    def __init__(
        self, credentials: Any, region: str, service: str, origin: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._credentials = credentials
        self._scope_tail = f"/{region}/{service}/aws4_request"
        self._region = region
        self._service = service
        self._clock = clock
        self.host = host_header(origin)
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (secret, yyyymmdd, signing key)

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached_secret, cached_day, key = self._key
        if cached_secret != secret or cached_day != day:
            key = hmac.digest(f"AWS4{secret}".encode(), day.encode(), "sha256")
            for part in (self._region, self._service, "aws4_request"):
                key = hmac.digest(key, part.encode(), "sha256")
            self._key = (secret, day, key)
        return key

    def headers(self, path: str, canonical_uri: str, body: bytes) -> list[tuple[str, str]]:
        """``X-Amz-Date``, ``X-Amz-Security-Token`` (temporary credentials) and ``Authorization`` for
        ``POST path`` (already percent-encoded; ``canonical_uri`` from :func:`canonical_uri`) with ``body``."""
        credentials = self._credentials.get_frozen_credentials()
        timestamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        day = timestamp[:8]
        canonical_headers = f"host:{self.host}\nx-amz-date:{timestamp}\n"
        signed_headers = "host;x-amz-date"
        if credentials.token:
            canonical_headers += f"x-amz-security-token:{' '.join(credentials.token.split())}\n"
            signed_headers += ";x-amz-security-token"
        canonical_request = "\n".join(
            (
                "POST",
                canonical_uri,
                "",
                canonical_headers,
                signed_headers,
                hashlib.sha256(body).hexdigest(),
            )
        )
        scope = day + self._scope_tail
        string_to_sign = "\n".join(
            ("AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
        )
        signature = hmac.digest(self._signing_key(credentials.secret_key, day), string_to_sign.encode(), "sha256")
        headers = [("X-Amz-Date", timestamp)]
        if credentials.token:
            headers.append(("X-Amz-Security-Token", credentials.token))
        authorization = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature.hex()}"
        )
        headers.append(("Authorization", authorization))
        return headers


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


class SignedPoster:
    """Posts frames to connections: :meth:`post_many` answers an outcome per connection, :meth:`post` raises
    :class:`ConnectionGone` (410) or :class:`DeliveryFailed` (other refusals, or retries spent). Thread-safe:
    concurrent calls share the idle connections, never a connection in use."""

    def __init__(
        self,
        endpoint: str,
        credentials: Any,
        region: str,
        concurrency: int,
        sleep: Callable[[float], None] = time.sleep,
        *,
        tls: ssl.SSLContext | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        parts = urllib.parse.urlsplit(endpoint)
        https = parts.scheme == "https"
        tls = (tls or ssl.create_default_context()) if https else None
        self._address = (parts.hostname or "", parts.port or (443 if https else 80), tls)
        self._prefix = parts.path.rstrip("/") + "/@connections/"
        self._signer = SigV4Signer(credentials, region, "execute-api", f"{parts.scheme}://{parts.netloc}", clock)
        self._concurrency = max(1, concurrency)
        self._idle: deque[HttpConnection] = deque()
        self._sleep = sleep
        self._paths: dict[str, tuple[str, str]] = {}  # connection id -> (request path, canonical URI)

    def post(self, connection_id: str, data: bytes) -> None:
        outcome = self.post_many([connection_id], data)[0]
        if outcome is not None:
            raise outcome

    def post_many(self, connection_ids: Sequence[str], data: bytes) -> list[Outcome]:
        """Post ``data`` to each connection; the outcome of each, in order."""
        outcomes: list[Outcome] = [None] * len(connection_ids)
        pending = list(range(len(connection_ids)))
        for attempt in range(1, MAX_ATTEMPTS + 1):
            retry: list[int] = []
            throttled = False
            requests = ((i, self._request(connection_ids[i], data)) for i in pending)
            for index, status, reason in self._exchange(requests, len(pending)):
                if status == 200:
                    outcomes[index] = None
                elif status == 410:
                    outcomes[index] = ConnectionGone(connection_ids[index])
                elif status and status not in _RETRYABLE:
                    outcomes[index] = DeliveryFailed(f"PostToConnection: {status} {reason}".strip())
                else:
                    outcomes[index] = DeliveryFailed(
                        f"PostToConnection: {status or reason} after {MAX_ATTEMPTS} attempts"
                    )
                    retry.append(index)
                    throttled = throttled or status == 429
            if not retry or attempt == MAX_ATTEMPTS:
                break
            self._sleep(backoff_delay(attempt, throttled))
            pending = retry
        return outcomes

    def _request(self, connection_id: str, data: bytes) -> bytes:
        paths = self._paths.get(connection_id)
        if paths is None:
            if len(self._paths) >= _PATH_CACHE_SIZE:
                self._paths.clear()
            path = self._prefix + percent_encode(connection_id)
            paths = self._paths[connection_id] = (path, canonical_uri(path))
        head = [f"POST {paths[0]} HTTP/1.1", f"Host: {self._signer.host}", f"Content-Length: {len(data)}"]
        head += [f"{name}: {value}" for name, value in self._signer.headers(*paths, data)]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + data

    def _exchange(self, requests: Iterable[tuple[int, bytes]], count: int) -> list[tuple[int, int, str]]:  # noqa: C901 - to split (complexity check introduced; see the tidy-up commits)
        """Send the ``count`` (index, request) pairs; (index, status, reason) for each, status 0 when there was no
        answer (reason: the error). Up to ``concurrency`` in flight, one per connection, answers read oldest
        first. A connection that cannot be opened is not tried again in this exchange: an unreachable endpoint
        costs one connect timeout, not one per request."""
        answers: list[tuple[int, int, str]] = []
        free, failure = self._connections(min(self._concurrency, count))
        slots = len(free)  # connections this exchange holds: free + in flight, or slots to reopen
        in_flight: deque[tuple[HttpConnection, int]] = deque()

        def collect() -> None:
            connection, index = in_flight.popleft()
            try:
                status, reason = connection.read_response()
            except (OSError, ProtocolError) as exc:
                connection.close()
                answers.append((index, 0, type(exc).__name__))
                return
            answers.append((index, status, reason))
            if connection.reusable:
                free.append(connection)
            else:
                connection.close()

        try:
            for index, request in requests:
                connection = None
                while connection is None and slots:
                    if free:
                        connection = free.pop()
                    elif len(in_flight) >= slots:
                        collect()
                    else:
                        try:
                            connection = self._idle_connection() or HttpConnection.open(*self._address)
                        except OSError as exc:
                            slots, failure = slots - 1, type(exc).__name__
                if connection is None:
                    answers.append((index, 0, failure))
                    continue
                try:
                    connection.send(request)
                except OSError as exc:
                    connection.close()
                    answers.append((index, 0, type(exc).__name__))
                    continue
                in_flight.append((connection, index))
            while in_flight:
                collect()
            return answers
        finally:
            for connection, _ in in_flight:
                connection.close()
            for connection in free:
                self._checkin(connection)

    def _connections(self, wanted: int) -> tuple[list[HttpConnection], str]:
        """Up to ``wanted`` connections, idle ones first, the rest opened concurrently (TLS handshakes overlap);
        with the reason the last one that failed to open failed."""
        connections: list[HttpConnection] = []
        while len(connections) < wanted and (idle := self._idle_connection()) is not None:
            connections.append(idle)
        missing = wanted - len(connections)
        if missing > 1:
            with ThreadPoolExecutor(max_workers=missing, thread_name_prefix="connect") as pool:
                opened = list(pool.map(lambda _: self._open(), range(missing)))
        else:
            opened = [self._open() for _ in range(missing)]
        failure = ""
        for outcome in opened:
            if isinstance(outcome, HttpConnection):
                connections.append(outcome)
            else:
                failure = type(outcome).__name__
        return connections, failure

    def _open(self) -> HttpConnection | OSError:
        try:
            return HttpConnection.open(*self._address)
        except OSError as exc:
            return exc

    def _idle_connection(self) -> HttpConnection | None:
        while True:
            try:
                connection = self._idle.pop()
            except IndexError:
                return None
            if not connection.dropped():
                return connection
            connection.close()

    def _checkin(self, connection: HttpConnection) -> None:
        if len(self._idle) < self._concurrency:
            self._idle.append(connection)
        else:
            connection.close()
