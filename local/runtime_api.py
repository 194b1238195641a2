"""Lambda's Runtime API, served to execution environments: one loopback port per environment (its
``AWS_LAMBDA_RUNTIME_API``), as each Lambda sandbox has its own.

    GET  /2018-06-01/runtime/invocation/next             → 200, the event; Lambda-Runtime-* headers
    POST /2018-06-01/runtime/invocation/{id}/response    → 202 (400 for an id not in progress)
    POST /2018-06-01/runtime/invocation/{id}/error       → 202 (Lambda-Runtime-Function-Error-Type)
    POST /2018-06-01/runtime/init/error                  → 202
"""

from __future__ import annotations

import asyncio
import functools
import json

from aiohttp import web

from local.ids import trace_id
from local.sandbox import Environment

PREFIX = "/2018-06-01/runtime/"
ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
_ACCEPTED = b'{"status":"OK"}'


def _json(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json")


def _refused(status: int, error_type: str, message: str) -> web.Response:
    return _json(status, json.dumps({"errorMessage": message, "errorType": error_type}).encode())


async def handle(environment: Environment, request: web.BaseRequest) -> web.StreamResponse:
    path = request.path
    if not path.startswith(PREFIX):
        return _refused(404, "InvalidRequest", f"unknown path {path}")
    route = path[len(PREFIX) :]
    method = request.method
    if route == "invocation/next" and method == "GET":
        invocation = await environment.next_invocation()
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": environment.spec.arn,
            "Lambda-Runtime-Trace-Id": trace_id(invocation.deadline_ms // 1000) + ";Sampled=0",
        }
        return web.Response(body=invocation.payload, headers=headers, content_type="application/json")
    if method != "POST":
        return _refused(405, "InvalidRequest", f"{method} not allowed on {path}")
    body = await request.read()
    error_type = request.headers.get(ERROR_TYPE)
    if route == "init/error":
        environment.fail_init(body, error_type)
        return _json(202, _ACCEPTED)
    request_id, _, action = route.removeprefix("invocation/").rpartition("/")
    if route.startswith("invocation/") and action in ("response", "error"):
        done = (
            environment.respond(request_id, body)
            if action == "response"
            else environment.fail(request_id, body, error_type)
        )
        if done:
            return _json(202, _ACCEPTED)
        return _refused(400, "InvalidRequestID", f"invocation {request_id} is not in progress")
    return _refused(404, "InvalidRequest", f"unknown path {path}")


class RuntimeApiServer:
    """Opens and closes each environment's Runtime API endpoint."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._servers: dict[Environment, tuple[web.Server, asyncio.Server]] = {}

    async def listen(self, environment: Environment) -> str:
        protocol = web.Server(functools.partial(handle, environment), access_log=None)
        server = await asyncio.get_running_loop().create_server(protocol, self.host, 0)
        self._servers[environment] = (protocol, server)
        port = server.sockets[0].getsockname()[1]
        return f"{self.host}:{port}"

    def close(self, environment: Environment) -> None:
        entry = self._servers.pop(environment, None)
        if entry is not None:
            entry[1].close()

    async def close_all(self) -> None:
        servers = list(self._servers.values())
        self._servers.clear()
        for protocol, server in servers:
            server.close()
            await protocol.shutdown(0.1)
