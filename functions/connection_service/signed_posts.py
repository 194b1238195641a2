"""``PostToConnection``, the fan-out's hot path: SigV4-signed HTTP/1.1 POSTs, many in flight from one thread.

API Gateway has no multicast, so a broadcast costs one management-API call per recipient. botocore's generic
client spends ~0.8 ms of CPU on such a call, its SigV4Auth over urllib3 ~0.25 ms; this path ~0.03 ms. It sends
the request boto3's ``post_to_connection`` sends (same URL encoding, same SigV4 signature for ``execute-api``),
keeps up to ``concurrency`` requests in flight on as many kept-alive connections (one request per connection at
a time, answers read in order: no threads), and retries like botocore's standard mode: throttling, 5xx and
connection errors, exponential backoff with full jitter, four attempts in all.
"""

from __future__ import annotations

import random
import ssl
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .errors import ConnectionGone, DeliveryFailed
from .http1_connection import HttpConnection, ProtocolError
from .shared_types import Outcome
from .sigv4 import SigV4Signer, canonical_uri, percent_encode

MAX_ATTEMPTS = 4
_RETRYABLE = frozenset({429, 500, 502, 503, 504})
_PATH_CACHE_SIZE = 10_000  # connection ids whose (percent-encoded) paths are kept: a tenant's recipients recur

Answer = tuple[int, int, str]  # (request index, HTTP status or 0 when there was no answer, reason)


def backoff_delay(attempt: int, throttled: bool, rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff before retry ``attempt`` (1-based), capped at 2 s."""
    base = 0.2 if throttled else 0.05
    cap: float = min(2.0, base * 2.0 ** (attempt - 1))
    return rand() * cap


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

    def _exchange(self, requests: Iterable[tuple[int, bytes]], count: int) -> list[Answer]:
        """Send the ``count`` (index, request) pairs; (index, status, reason) for each, status 0 when there was no
        answer (reason: the error). Up to ``concurrency`` in flight, one per connection, answers read oldest
        first. A connection that cannot be opened is not tried again in this exchange: an unreachable endpoint
        costs one connect timeout, not one per request."""
        free, failure = self._connections(min(self._concurrency, count))
        exchange = _Exchange(free, failure, self._open_connection)
        try:
            for index, request in requests:
                exchange.send(index, request)
            return exchange.finish()
        finally:
            exchange.release(self._checkin)

    def _open_connection(self) -> HttpConnection:
        return self._idle_connection() or HttpConnection.open(*self._address)

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


class _Exchange:
    """The connections one exchange holds: free ones, those with a request in flight (answers read oldest first),
    and how many it may hold (``slots``: one fewer each time a connection cannot be opened)."""

    __slots__ = ("_open", "answers", "failure", "free", "in_flight", "slots")

    def __init__(self, free: list[HttpConnection], failure: str, open_connection: Callable[[], HttpConnection]) -> None:
        self.free = free
        self.failure = failure  # why the last connection that could not be opened could not
        self.slots = len(free)
        self.in_flight: deque[tuple[HttpConnection, int]] = deque()
        self.answers: list[Answer] = []
        self._open = open_connection

    def send(self, index: int, request: bytes) -> None:
        connection = self._connection()
        if connection is None:
            self.answers.append((index, 0, self.failure))
            return
        try:
            connection.send(request)
        except OSError as exc:
            connection.close()
            self.answers.append((index, 0, type(exc).__name__))
            return
        self.in_flight.append((connection, index))

    def _connection(self) -> HttpConnection | None:
        """A free connection, else the oldest in flight once answered, else a new one; None when no slot is left."""
        while self.slots:
            if self.free:
                return self.free.pop()
            if len(self.in_flight) >= self.slots:
                self._collect()
                continue
            try:
                return self._open()
            except OSError as exc:
                self.slots, self.failure = self.slots - 1, type(exc).__name__
        return None

    def _collect(self) -> None:
        connection, index = self.in_flight.popleft()
        try:
            status, reason = connection.read_response()
        except (OSError, ProtocolError) as exc:
            connection.close()
            self.answers.append((index, 0, type(exc).__name__))
            return
        self.answers.append((index, status, reason))
        if connection.reusable:
            self.free.append(connection)
        else:
            connection.close()

    def finish(self) -> list[Answer]:
        while self.in_flight:
            self._collect()
        return self.answers

    def release(self, checkin: Callable[[HttpConnection], None]) -> None:
        """Close what is still in flight (an exchange cut short), give the free connections back."""
        for connection, _ in self.in_flight:
            connection.close()
        for connection in self.free:
            checkin(connection)
