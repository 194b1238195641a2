"""Lambda's Runtime API, served to execution environments: one loopback port per environment (its
``AWS_LAMBDA_RUNTIME_API``), as each Lambda sandbox has its own.

    GET  /2018-06-01/runtime/invocation/next             → 200, the event; Lambda-Runtime-* headers
    POST /2018-06-01/runtime/invocation/{id}/response    → 202 (400 for an id not in progress)
    POST /2018-06-01/runtime/invocation/{id}/error       → 202 (Lambda-Runtime-Function-Error-Type)
    POST /2018-06-01/runtime/init/error                  → 202

Every invocation crosses this API twice (the event out, the result back), so it is served by a small HTTP/1.1
protocol of its own rather than a web framework: its only clients are runtime interface clients, which send one
request at a time with a ``Content-Length`` body (``Expect: 100-continue`` is honoured). Anything else is refused
with 400 and the connection closed.
"""

from __future__ import annotations

import asyncio
import json
from typing import cast

from local.ids import trace_id
from local.sandbox import Environment, Invocation

PREFIX = b"/2018-06-01/runtime/"
ERROR_TYPE = b"lambda-runtime-function-error-type"
_ACCEPTED = (
    b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n" + b'{"status":"OK"}'
)
_REASONS = {400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed", 413: b"Payload Too Large"}
MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


def _refusal(status: int, error_type: str, message: str) -> bytes:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    head = f"HTTP/1.1 {status} {_REASONS[status].decode()}\r\nContent-Type: application/json\r\n"
    return head.encode() + b"Content-Length: %d\r\n\r\n" % len(body) + body


def _event(environment: Environment, invocation: Invocation) -> bytes:
    payload = invocation.payload
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        f"Lambda-Runtime-Aws-Request-Id: {invocation.request_id}\r\n"
        f"Lambda-Runtime-Deadline-Ms: {invocation.deadline_ms}\r\n"
        f"Lambda-Runtime-Invoked-Function-Arn: {environment.spec.arn}\r\n"
        f"Lambda-Runtime-Trace-Id: {trace_id(invocation.deadline_ms // 1000)};Sampled=0\r\n\r\n"
    )
    return head.encode() + payload


class RuntimeApiProtocol(asyncio.Protocol):
    """One runtime client's connection to its environment's endpoint."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.waiting: asyncio.Task[None] | None = None
        self.continued = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.waiting is not None:
            self.waiting.cancel()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._serve()

    def _refuse(self, status: int, error_type: str, message: str) -> None:
        if self.transport is not None:
            self.transport.write(_refusal(status, error_type, message))
            self.transport.close()
        self.buffer.clear()

    def _serve(self) -> None:
        buffer = self.buffer
        while self.waiting is None and self.transport is not None and buffer:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > MAX_HEAD_BYTES:
                    self._refuse(400, "InvalidRequest", "request head too large")
                return
            request_line, _, header_block = bytes(buffer[:end]).partition(b"\r\n")
            parts = request_line.split(b" ")
            headers: dict[bytes, bytes] = {}
            for line in header_block.split(b"\r\n") if header_block else ():
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            length_text = headers.get(b"content-length", b"0")
            if len(parts) != 3 or not length_text.isdigit() or b"transfer-encoding" in headers:
                self._refuse(400, "InvalidRequest", "malformed request (a Content-Length body is required)")
                return
            length = int(length_text)
            if length > MAX_BODY_BYTES:
                self._refuse(413, "RequestEntityTooLarge", "request body too large")
                return
            if len(buffer) < end + 4 + length:
                if headers.get(b"expect", b"").lower() == b"100-continue" and not self.continued:
                    self.continued = True
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                return
            body = bytes(buffer[end + 4 : end + 4 + length])
            del buffer[: end + 4 + length]
            self.continued = False
            self._dispatch(parts[0], parts[1], headers, body)

    def _dispatch(self, method: bytes, path: bytes, headers: dict[bytes, bytes], body: bytes) -> None:
        assert self.transport is not None
        environment = self.environment
        if not path.startswith(PREFIX):
            self.transport.write(_refusal(404, "InvalidRequest", f"unknown path {path.decode('latin-1')}"))
            return
        route = path[len(PREFIX) :]
        if route == b"invocation/next":
            if method != b"GET":
                self.transport.write(_refusal(405, "InvalidRequest", "GET only"))
                return
            self.waiting = asyncio.get_running_loop().create_task(self._next())
            return
        if method != b"POST":
            self.transport.write(_refusal(405, "InvalidRequest", "POST only"))
            return
        error_type = headers[ERROR_TYPE].decode("latin-1") if ERROR_TYPE in headers else None
        if route == b"init/error":
            environment.fail_init(body, error_type)
            self.transport.write(_ACCEPTED)
            return
        request_id, _, action = route.removeprefix(b"invocation/").rpartition(b"/")
        if not route.startswith(b"invocation/") or action not in (b"response", b"error"):
            self.transport.write(_refusal(404, "InvalidRequest", f"unknown path {path.decode('latin-1')}"))
            return
        rid = request_id.decode("latin-1")
        done = environment.respond(rid, body) if action == b"response" else environment.fail(rid, body, error_type)
        if done:
            self.transport.write(_ACCEPTED)
        else:
            self.transport.write(_refusal(400, "InvalidRequestID", f"invocation {rid} is not in progress"))

    async def _next(self) -> None:
        try:
            invocation = await self.environment.next_invocation()
        except asyncio.CancelledError:
            return
        finally:
            self.waiting = None
        if self.transport is not None:
            self.transport.write(_event(self.environment, invocation))
            self._serve()


class RuntimeApiServer:
    """Opens and closes each environment's Runtime API endpoint."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._servers: dict[Environment, asyncio.Server] = {}

    async def listen(self, environment: Environment) -> str:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: RuntimeApiProtocol(environment), self.host, 0)
        self._servers[environment] = server
        port = server.sockets[0].getsockname()[1]
        return f"{self.host}:{port}"

    def close(self, environment: Environment) -> None:
        server = self._servers.pop(environment, None)
        if server is not None:
            server.close()

    async def close_all(self) -> None:
        servers = list(self._servers.values())
        self._servers.clear()
        for server in servers:
            server.close()
