"""The ``@connections`` management API (PostToConnection, GetConnection, DeleteConnection).

Kept lean: the POST path is the fan-out hot path (one call per recipient).
"""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import unquote

from aiohttp import web

from local.clock import iso_time
from local.connections import Connection, ConnectionState
from local.gateway import Gateway
from local.ids import gateway_id
from local.websocket import WebSocketService

log = logging.getLogger("local.connections")

_JSON = "application/json"


def error_response(status: int, error_type: str, message: str | None) -> web.Response:
    """An error as API Gateway answers it: typed by ``x-amzn-ErrorType`` (what boto3 reads)."""
    body = b"" if message is None else json.dumps({"message": message}).encode()
    return web.Response(
        status=status,
        body=body,
        headers={"x-amzn-ErrorType": error_type, "x-amzn-RequestId": gateway_id(), "Content-Type": _JSON},
    )


def gone() -> web.Response:
    # API Gateway answers 410 with an empty body; SDKs take the error type from x-amzn-ErrorType.
    return error_response(410, "GoneException", None)


class ManagementService:
    def __init__(self, gateway: Gateway, websocket: WebSocketService) -> None:
        self.gw = gateway
        self.ws = websocket
        self.stages = {"", gateway.stage}

    def _connection(self, request: web.Request) -> Connection | None:
        connection_id = request.match_info["connection_id"]
        if "%" in connection_id:
            connection_id = unquote(connection_id)
        connection = self.gw.connections.get(connection_id)
        if connection is None or connection.state is not ConnectionState.OPEN:
            return None
        return connection

    async def handle(self, request: web.Request) -> web.StreamResponse:
        stage = request.match_info.get("stage", "")
        if stage not in self.stages:
            return error_response(403, "ForbiddenException", "Forbidden")
        method = request.method
        operation = "post" if method == "POST" else "get" if method == "GET" else "delete"
        if method not in ("POST", "GET", "DELETE"):
            return error_response(403, "ForbiddenException", "Forbidden")
        if self.gw.faults:
            injected = await self._inject(operation, request)
            if injected is not None:
                return injected
        if method == "POST":
            return await self.post(request)
        if method == "GET":
            return self.get(request)
        return await self.delete(request)

    async def post(self, request: web.Request) -> web.Response:
        length = request.content_length
        limit = self.gw.config.post_limit
        if length is not None and length > limit:
            return error_response(413, "PayloadTooLargeException", "Request entity too large")
        if self._connection(request) is None:
            return gone()
        data = await request.read()
        if len(data) > limit:
            return error_response(413, "PayloadTooLargeException", "Request entity too large")
        if await self.deliver(request.match_info["connection_id"], data):
            return web.Response(status=200)
        return gone()

    async def deliver(self, connection_id: str, data: bytes) -> bool:
        """PostToConnection's effect: the frame written to the client's socket; False when the connection is gone."""
        if "%" in connection_id:
            connection_id = unquote(connection_id)
        connection = self.gw.connections.get(connection_id)
        return connection is not None and await connection.send(data)

    def get(self, request: web.Request) -> web.Response:
        connection = self._connection(request)
        if connection is None:
            return gone()
        peer = connection.peer
        body = {
            "connectedAt": iso_time(peer.connected_at),
            "identity": {"sourceIp": peer.source_ip, "userAgent": peer.user_agent},
            "lastActiveAt": iso_time(connection.last_active),
        }
        return web.json_response(body)

    async def delete(self, request: web.Request) -> web.Response:
        connection = self._connection(request)
        if connection is None:
            return gone()
        connection.close_info = (1000, "")
        self.gw.background.spawn(self.ws.close(connection, 1000, ""))
        return web.Response(status=204)

    async def _inject(self, operation: str, request: web.Request) -> web.Response | None:
        for fault in self.gw.faults.draw(operation):
            if fault.kind == "latency":
                await asyncio.sleep(fault.argument / 1000)
            elif fault.kind == "410":
                return gone()
            elif fault.kind == "429":
                return error_response(429, "LimitExceededException", "Rate exceeded")
            elif fault.kind == "500":
                return error_response(500, "InternalServerErrorException", "Internal server error")
            elif fault.kind == "drop":
                connection = self._connection(request)
                if connection is not None and connection.transport is not request.transport:
                    connection.close_info = (1006, "Connection dropped (fault injection)")
                    connection.abort()
                return gone()
        return None
