"""A stand-in for AWS's ``@connections`` management API (a service we do not own), for integration tests.

It records what the real client sends and answers 410 GoneException for ids marked gone. What API Gateway sends a
client from a two-way route (the body the route's function returned) is recorded with the posts, in the order the
client would receive it, through :meth:`ConnectionsApi.route_response`. Like the real endpoint it keeps
connections alive (HTTP/1.1), which the functions' poster reuses.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections import defaultdict
from typing import Any

from tests.support.stub_server import QuietHandler, StubServer, stand_in


class _Handler(QuietHandler):
    protocol_version = "HTTP/1.1"

    def _connection_id(self) -> str:
        return urllib.parse.unquote(self.path.rsplit("/", 1)[-1])

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _gone(self) -> None:
        self._answer(410, b'{"message":null}', {"x-amzn-ErrorType": "GoneException"})

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        failure = stand_in(self, ConnectionsApi).received("POST", self.path, dict(self.headers.items()))
        if failure is not None:
            self._answer(failure, b"{}", {"x-amzn-ErrorType": "InjectedFailure"})
        elif stand_in(self, ConnectionsApi).post(self._connection_id(), data):
            self._answer(200)
        else:
            self._gone()

    def do_DELETE(self) -> None:
        if stand_in(self, ConnectionsApi).delete(self._connection_id()):
            self._answer(204)
        else:
            self._gone()


class ConnectionsApi(StubServer):
    def __init__(self, stage: str = "dev") -> None:
        self.stage = stage
        self.posted: dict[str, list[dict[str, object]]] = defaultdict(list)
        self.deleted: list[str] = []
        self.gone: set[str] = set()
        self.failures: list[int] = []  # statuses to answer next, in order, before behaving normally
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, raw path, headers
        self._lock = threading.Lock()
        super().__init__(_Handler)

    @property
    def endpoint(self) -> str:
        return f"{self.origin}/{self.stage}"

    def received(self, method: str, path: str, headers: dict[str, str]) -> int | None:
        """Record a request; the injected failure status to answer it with, if one is queued."""
        with self._lock:
            self.requests.append((method, path, headers))
            return self.failures.pop(0) if self.failures else None

    def post(self, connection_id: str, data: str | bytes) -> bool:
        """Deliver a posted frame (JSON); False for a gone connection."""
        if connection_id in self.gone:
            return False
        with self._lock:
            self.posted[connection_id].append(json.loads(data))
        return True

    def delete(self, connection_id: str) -> bool:
        """Record a deletion; False for a gone connection."""
        if connection_id in self.gone:
            return False
        with self._lock:
            self.deleted.append(connection_id)
        return True

    def reset(self) -> None:
        with self._lock:
            self.posted.clear()
            self.deleted.clear()
            self.gone.clear()
            self.failures.clear()
            self.requests.clear()

    def route_response(self, connection_id: str, response: dict[str, Any]) -> dict[str, Any]:
        """Deliver the body a two-way route's function returned, as API Gateway does once it has returned (a gone
        connection gets nothing); the response is given back for the test to check."""
        body = response.get("body")
        if body is not None:
            self.post(connection_id, body)
        return response

    def frames(self, connection_id: str) -> list[dict[str, object]]:
        with self._lock:
            return list(self.posted.get(connection_id, []))
