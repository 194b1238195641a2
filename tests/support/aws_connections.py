"""A stand-in for AWS's ``@connections`` management API (a service we do not own), for integration tests.

It records what the real boto3 client sends and answers 410 GoneException for ids marked gone. What API Gateway
sends a client from a two-way route (the body the route's function returned) is recorded with the posts, in the
order the client would receive it, through :meth:`ConnectionsApi.route_response`.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


class ConnectionsApi:
    def __init__(self, stage: str = "dev") -> None:  # noqa: C901 - to split (complexity check introduced; see the tidy-up commits)
        self.stage = stage
        self.posted: dict[str, list[dict[str, object]]] = defaultdict(list)
        self.deleted: list[str] = []
        self.gone: set[str] = set()
        self.failures: list[int] = []  # statuses to answer next, in order, before behaving normally
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, raw path, headers
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

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
                connection_id = self._connection_id()
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with api._lock:
                    api.requests.append(("POST", self.path, dict(self.headers.items())))
                    failure = api.failures.pop(0) if api.failures else None
                if failure is not None:
                    return self._answer(failure, b"{}", {"x-amzn-ErrorType": "InjectedFailure"})
                if connection_id in api.gone:
                    return self._gone()
                with api._lock:
                    api.posted[connection_id].append(json.loads(data))
                self._answer(200)

            def do_DELETE(self) -> None:
                connection_id = self._connection_id()
                if connection_id in api.gone:
                    return self._gone()
                with api._lock:
                    api.deleted.append(connection_id)
                self._answer(204)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{self.stage}"

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
        if body is not None and connection_id not in self.gone:
            with self._lock:
                self.posted[connection_id].append(json.loads(body))
        return response

    def frames(self, connection_id: str) -> list[dict[str, object]]:
        with self._lock:
            return list(self.posted.get(connection_id, []))

    def __enter__(self) -> ConnectionsApi:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
