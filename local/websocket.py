"""The WebSocket API: handshake and ``$connect``, route selection and invocation, ``$disconnect``, limits."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from typing import Any

from aiohttp import WSMessage, WSMsgType, web

from local import authorizer as auth
from local.clock import now_ms
from local.connections import CLOSED, OPEN, Connection
from local.events import Peer, connect_event, connect_headers, disconnect_event, message_event
from local.frames import FrameLimitedParser
from local.gateway import Gateway
from local.ids import gateway_id
from local.invocation import InvocationError

log = logging.getLogger("local")

GOING_AWAY = (1001, "Going away")


def _shared(text: str) -> str:
    """One copy of a value most connections repeat (the client's address, user agent, host), however many hold it."""
    return sys.intern(text)


def _is_2xx(status: int) -> bool:
    return 200 <= status < 300


def _status_of(result: Any) -> int:
    if isinstance(result, dict) and "statusCode" in result:
        try:
            return int(result["statusCode"])
        except (TypeError, ValueError):
            return 502
    return 200


def _body_of(result: Any) -> str | None:
    if result is None:
        return None
    if isinstance(result, dict) and ("statusCode" in result or "body" in result):
        body = result.get("body")
        if body is None:
            return None
        return body if isinstance(body, str) else json.dumps(body)
    return result if isinstance(result, str) else json.dumps(result)


class LimitedWebSocketResponse(web.WebSocketResponse):
    """aiohttp's WebSocket response with API Gateway's frame size limit enforced on incoming frames."""

    __slots__ = ("_frame_limit",)

    def __init__(self, *, frame_limit: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frame_limit = frame_limit

    def _post_start(self, request: web.BaseRequest, protocol: str | None, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        handler: Any = request.protocol
        parser = handler._payload_parser
        if parser is not None and self._frame_limit > 0:
            handler._payload_parser = FrameLimitedParser(parser, self._frame_limit, self)


class WebSocketService:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.handlers: set[asyncio.Task[Any]] = set()
        self.paths = {"/", f"/{gateway.stage}"}

    # --- handshake ------------------------------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        opened = await self._open(request)
        if not isinstance(opened, Connection):
            return opened
        # This coroutine lives as long as the connection: it holds only what reading needs (the handshake's
        # headers and CONNECT event were left behind in _open's frame).
        connection = opened
        ws = connection.ws
        assert ws is not None
        task = asyncio.current_task()
        if task is not None:
            self.handlers.add(task)
        try:
            while await self._received(connection, ws, await ws.receive()):
                pass
        finally:
            if task is not None:
                self.handlers.discard(task)
            await self._disconnected(connection, ws)
        return ws

    async def _open(self, request: web.Request) -> Connection | web.StreamResponse:
        """Run ``$connect`` (and its authorizer), then complete the handshake: the open connection, or the refusal."""
        gw = self.gw
        api = gw.api
        assert api is not None
        if not gw.connect_quota.allow():
            log.warning("CONNECT refused: new-connection quota (%s/s) exceeded -> 429", gw.config.connect_rate)
            return web.json_response({"message": "Too Many Requests"}, status=429)
        started = time.perf_counter()
        when = now_ms()
        peername = request.transport.get_extra_info("peername") if request.transport else None
        source_ip = str(peername[0]) if peername else "127.0.0.1"
        peer = Peer(
            connection_id=gateway_id(),
            connected_at=when,
            source_ip=_shared(source_ip),
            user_agent=_shared(request.headers.get("User-Agent", "")),
            domain_name=_shared(request.host),
            stage=gw.stage,
            api_id=api.api_id,
        )
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        headers = connect_headers(raw, source_ip=source_ip, port=gw.config.port, now_ms=when)
        request_id = gateway_id()
        event = connect_event(
            peer, headers=headers, query_string=request.query_string, now_ms=when, request_id=request_id
        )
        connection = Connection(peer)
        route = api.routes.get("$connect")

        if route is not None and route.authorizer is not None:
            verdict = await auth.authorize(gw, route.authorizer, event)
            if verdict.status != 200:
                log.info("CONNECT %s authorizer %s -> %d", peer.connection_id, route.authorizer.name, verdict.status)
                return web.json_response({"message": verdict.message}, status=verdict.status)
            connection.authorizer = verdict.context
            event["requestContext"]["authorizer"] = verdict.context

        gw.connections[peer.connection_id] = connection
        status, protocols = 200, tuple[str, ...]()
        if route is not None and route.function is not None:
            status, result = await self._invoke(route.function, event, "CONNECT", connection, "$connect")
            if _is_2xx(status):
                resp_headers = result.get("headers") if isinstance(result, dict) else None
                if isinstance(resp_headers, dict):
                    for name, value in resp_headers.items():
                        if name.lower() == "sec-websocket-protocol":
                            protocols = (str(value),)
            else:
                gw.connections.pop(peer.connection_id, None)
                connection.state = CLOSED
                body = _body_of(result) if status != 502 else json.dumps({"message": "Internal server error"})
                return web.Response(status=status, text=body or "", content_type="application/json")
        else:
            log.info("CONNECT %s (no $connect integration) -> 200", peer.connection_id)

        ws = LimitedWebSocketResponse(
            frame_limit=gw.config.frame_limit,
            protocols=protocols,
            max_msg_size=gw.config.message_limit + 1,  # aiohttp refuses sizes >= max_msg_size
            compress=False,
            autoping=True,
        )
        try:
            await ws.prepare(request)
        except Exception:
            gw.connections.pop(peer.connection_id, None)
            raise
        connection.ws = ws
        connection.state = OPEN
        log.debug("CONNECT %s open after %.1f ms", peer.connection_id, (time.perf_counter() - started) * 1000)
        return connection

    # --- messages -------------------------------------------------------------------------------------------

    async def _received(self, connection: Connection, ws: web.WebSocketResponse, message: WSMessage) -> bool:
        """Act on one received message; False once the connection is over."""
        kind = message.type
        if kind is WSMsgType.TEXT:
            connection.last_active = now_ms()
            task = asyncio.create_task(self._on_message(connection, message.data))
            self.gw.background.add(task)
            task.add_done_callback(self.gw.background.discard)
            return True
        if kind is WSMsgType.BINARY:
            connection.close_info = (1003, "Unsupported binary frame")
            await ws.close(code=1003, message=b"Unsupported binary frame")
            return False
        if kind is WSMsgType.CLOSE:
            if connection.close_info is None:
                code = int(message.data or 0)
                reason = str(message.extra or "")
                if code == 0 or code == 1005:
                    connection.close_info = (1005, "Client-side close frame status not set")
                else:
                    connection.close_info = (code, reason)
            return False
        if kind is WSMsgType.ERROR:
            if connection.close_info is None:
                code = ws.close_code or 1006
                reason = "Message too big" if code == 1009 else str(message.data or "")
                connection.close_info = (code, reason)
            return False
        return kind not in (WSMsgType.CLOSED, WSMsgType.CLOSING)

    async def _on_message(self, connection: Connection, body: str) -> None:
        gw = self.gw
        api = gw.api
        assert api is not None
        route_key = gw.selector.select(body, gw.route_keys)
        route = api.routes.get(route_key)
        request_id = gateway_id()
        peer = connection.peer
        if route is None:
            log.info("MESSAGE %s no route (no $default) -> Forbidden", peer.connection_id)
            await self._send_json(
                connection, {"message": "Forbidden", "connectionId": peer.connection_id, "requestId": request_id}
            )
            return
        if route.function is None:
            return
        event = message_event(
            peer,
            route_key=route_key,
            body=body,
            now_ms=now_ms(),
            request_id=request_id,
            authorizer=connection.authorizer,
        )
        status, result = await self._invoke(route.function, event, "MESSAGE", connection, route_key)
        if status == 502:
            await self._send_json(
                connection,
                {"message": "Internal server error", "connectionId": peer.connection_id, "requestId": request_id},
            )
        elif status == 504:
            await self._send_json(
                connection,
                {"message": "Endpoint request timed out", "connectionId": peer.connection_id, "requestId": request_id},
            )
        elif route.two_way:
            body_out = _body_of(result)
            if body_out is not None:
                await self.send_text(connection, body_out)

    async def _invoke(
        self, function: str, event: dict[str, Any], kind: str, connection: Connection, route_key: str
    ) -> tuple[int, Any]:
        """Invoke a route's function; (status, result) with 502 for errors and 504 for timeouts."""
        started = time.perf_counter()
        try:
            result = await self.gw.invoker.invoke(function, event, timeout=self.gw.config.integration_timeout)
        except InvocationError as error:
            status = 504 if error.timed_out else 502
            result = None
            detail = f" ({error.kind}: {error.message})"
        else:
            status = _status_of(result)
            detail = ""
        if kind == "CONNECT" and status == 504:
            status = 502
        log.info(
            "%-10s %s %s -> %s %d %.1f ms%s",
            kind,
            connection.id,
            route_key,
            function,
            status,
            (time.perf_counter() - started) * 1000,
            detail,
        )
        return status, result

    async def send_text(self, connection: Connection, text: str) -> bool:
        ws = connection.ws
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_frame(text.encode("utf-8"), WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            return False
        return True

    async def _send_json(self, connection: Connection, payload: dict[str, Any]) -> None:
        await self.send_text(connection, json.dumps(payload))

    # --- closing --------------------------------------------------------------------------------------------

    async def close(self, connection: Connection, code: int, reason: str) -> None:
        """Close a connection from the gateway's side; its handler then runs ``$disconnect``."""
        if connection.close_info is None:
            connection.close_info = (code, reason)
        ws = connection.ws
        if ws is not None and not ws.closed:
            await ws.close(code=code, message=reason.encode())

    async def _disconnected(self, connection: Connection, ws: web.WebSocketResponse) -> None:
        gw = self.gw
        connection.state = CLOSED
        gw.connections.pop(connection.id, None)
        if not ws.closed:
            await ws.close()
        code, reason = connection.close_info or (ws.close_code or 1006, "")
        api = gw.api
        route = api.routes.get("$disconnect") if api else None
        if route is None or route.function is None:
            log.info("DISCONNECT %s %d (no $disconnect integration)", connection.id, code)
            return
        event = disconnect_event(
            connection.peer,
            status_code=code,
            reason=reason,
            now_ms=now_ms(),
            request_id=gateway_id(),
            authorizer=connection.authorizer,
        )
        await self._invoke(route.function, event, "DISCONNECT", connection, "$disconnect")

    async def sweep_forever(self) -> None:
        """Close connections idle too long or open longer than the maximum duration (1001 Going away)."""
        config = self.gw.config
        interval = max(0.05, min(config.idle_timeout, config.max_duration) / 10)
        interval = min(interval, 5.0)
        while True:
            await asyncio.sleep(interval)
            now = now_ms()
            idle_ms = config.idle_timeout * 1000
            max_ms = config.max_duration * 1000
            for connection in list(self.gw.connections.values()):
                if connection.state != OPEN:
                    continue
                if now - connection.peer.connected_at >= max_ms:
                    log.info("LIMIT      %s maximum connection duration reached", connection.id)
                elif now - connection.last_active >= idle_ms:
                    log.info("LIMIT      %s idle timeout", connection.id)
                else:
                    continue
                task = asyncio.create_task(self.close(connection, *GOING_AWAY))
                self.gw.background.add(task)
                task.add_done_callback(self.gw.background.discard)

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Close every connection (1001) and wait for their ``$disconnect`` invocations."""
        connections = [c for c in self.gw.connections.values() if c.state == OPEN]
        await asyncio.gather(*(self.close(c, *GOING_AWAY) for c in connections), return_exceptions=True)
        handlers = list(self.handlers)
        if handlers:
            await asyncio.wait(handlers, timeout=timeout)
