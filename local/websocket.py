"""The WebSocket API: handshake and ``$connect``, route selection and invocation, ``$disconnect``, limits.

Connections come in two ways. The listening port's fast lane hands a plain handshake (``GET`` on the stage path,
HTTP/1.1, version 13) to :meth:`WebSocketService.upgrade`, and the connection is then served by a :class:`Socket`:
frames are read as they arrive, and an idle connection holds no task, coroutine or framework request, only its
transport and a few small objects. Any other handshake reaches :meth:`WebSocketService.handle` through aiohttp and
is served by aiohttp's WebSocket response. Both run the same ``$connect``, routes and ``$disconnect``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import hashlib
import http
import json
import logging
import sys
import time
from email.utils import formatdate
from typing import Any, NamedTuple

from aiohttp import WSMessage, WSMsgType, web

from local import authorizer as auth
from local.aiohttp_internals import LimitedWebSocketResponse
from local.background_tasks import BackgroundTasks
from local.clock import now_ms
from local.connections import Connection, ConnectionState, checked_move
from local.event_payloads import Peer, connect_event, connect_headers, disconnect_event, message_event
from local.frames import (
    BINARY,
    CLOSE,
    PING,
    PONG,
    TEXT,
    FrameError,
    FrameReader,
    close_frame,
    frame,
    parse_close,
)
from local.gateway import Gateway
from local.ids import gateway_id
from local.invocation import InvocationError

log = logging.getLogger("local")

GOING_AWAY = (1001, "Going away")
CLOSE_TIMEOUT = 10.0  # seconds a client has to answer the gateway's close frame (aiohttp's default too)
HANDSHAKE_BUFFER = 256 * 1024  # bytes a client may send before its handshake is answered
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Refusal(NamedTuple):
    """A handshake answered with an HTTP error instead of 101 (a JSON body)."""

    status: int
    body: str


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


class Handshake(NamedTuple):
    """What :func:`parse_handshake` keeps of a WebSocket handshake's request head."""

    headers: list[tuple[str, str]]
    path: str
    query_string: str
    host: str
    user_agent: str
    key: str
    protocols: tuple[str, ...]


def parse_handshake(head: bytes) -> Handshake | None:
    """A plain WebSocket handshake (request line and headers, without the blank line), or None for anything
    else or unusual: another method or version, folded or malformed headers, a body, an encoded path, a version
    other than 13, a malformed key. aiohttp then serves the request and answers those cases itself."""
    request_line, _, header_block = head.partition(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[0] != b"GET" or parts[2] != b"HTTP/1.1" or not parts[1].startswith(b"/"):
        return None
    target = parts[1].decode("latin-1")
    path, _, query_string = target.partition("?")
    if "%" in path or "#" in target:
        return None
    headers: list[tuple[str, str]] = []
    found: dict[str, str] = {}
    for line in header_block.split(b"\r\n"):
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or b" " in name or b"\t" in name:
            return None
        key, text = name.decode("latin-1"), value.strip(b" \t").decode("latin-1")
        headers.append((key, text))
        found.setdefault(key.lower(), text)
    connection_tokens = {token.strip().lower() for token in found.get("connection", "").split(",")}
    if (
        found.get("upgrade", "").lower() != "websocket"
        or "upgrade" not in connection_tokens
        or found.get("sec-websocket-version") != "13"
        or "host" not in found
        or "content-length" in found
        or "transfer-encoding" in found
    ):
        return None
    key = found.get("sec-websocket-key", "")
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            return None
    except binascii.Error:
        return None
    offered = found.get("sec-websocket-protocol")
    protocols = tuple(p.strip() for p in offered.split(",")) if offered is not None else ()
    return Handshake(headers, path, query_string, found["host"], found.get("user-agent", ""), key, protocols)


def _http_response(status: int, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    lines = [f"HTTP/1.1 {status} {phrase}", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode("latin-1") + body


class SocketPhase(enum.IntEnum):
    """Where a :class:`Socket`'s wire protocol is: handshake unanswered, open, close frame sent, transport gone."""

    HANDSHAKE = 0
    OPEN = 1
    CLOSING = 2
    CLOSED = 3


_HANDSHAKE, _OPEN, _CLOSING, _CLOSED = SocketPhase
PHASE_MOVES = {
    _HANDSHAKE: frozenset({_OPEN, _CLOSING, _CLOSED}),
    _OPEN: frozenset({_CLOSING, _CLOSED}),
    _CLOSING: frozenset({_CLOSED}),
    _CLOSED: frozenset[SocketPhase](),
}
"""The moves a :class:`Socket`'s phase may make (:func:`local.connections.checked_move`)."""


class Socket(Connection, asyncio.Protocol):
    """A connection the gateway serves itself, from the handshake the fast lane handed over to the closed socket.

    Frames are parsed in :meth:`data_received` and each text message starts its route's invocation, as aiohttp's
    read loop would; replies, PostToConnection and closes write to the transport directly.
    """

    __slots__ = ("_closed", "_closer", "_pending", "_phase", "_reader", "_service")

    def __init__(self, service: WebSocketService, peer: Peer, transport: asyncio.Transport, pending: bytes) -> None:
        super().__init__(peer)
        config = service.gw.config
        self.transport = transport
        self._service = service
        self._reader = FrameReader(config.frame_limit, config.message_limit)
        self._phase = _HANDSHAKE
        self._pending = pending
        self._closer: asyncio.TimerHandle | None = None
        self._closed: asyncio.Future[None] | None = None

    def _enter(self, phase: SocketPhase) -> None:
        self._phase = checked_move(PHASE_MOVES, self._phase, phase)

    # --- handshake ------------------------------------------------------------------------------------------

    def accept(self, key: str, protocol: str | None) -> None:
        """Answer 101 and start reading frames (those the client sent early first)."""
        assert self.transport is not None
        accept = base64.b64encode(hashlib.sha1(key.encode() + _WS_GUID).digest()).decode()  # noqa: S324
        headers = [("Upgrade", "websocket"), ("Connection", "upgrade"), ("Sec-WebSocket-Accept", accept)]
        if protocol:
            headers.append(("Sec-WebSocket-Protocol", protocol))
        headers.append(("Date", formatdate(usegmt=True)))
        self.transport.write(_http_response(101, headers))
        self._enter(_OPEN)
        self.enter(ConnectionState.OPEN)
        pending, self._pending = self._pending, b""
        if pending:
            self.data_received(pending)

    def refuse(self, refusal: Refusal) -> None:
        assert self.transport is not None
        body = refusal.body.encode()
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Date", formatdate(usegmt=True)),
            ("Connection", "close"),
        ]
        self.transport.write(_http_response(refusal.status, headers, body))
        self._enter(_CLOSING)
        self.transport.close()

    @property
    def closed(self) -> bool:
        """The transport is gone."""
        return self._phase == _CLOSED

    # --- reading --------------------------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        phase = self._phase
        if phase == _HANDSHAKE:
            self._pending += data
            if len(self._pending) > HANDSHAKE_BUFFER and self.transport is not None:
                self.transport.abort()
            return
        if phase == _CLOSED:
            return
        messages, error = self._reader.feed(data)
        for opcode, payload in messages:
            try:
                self._on_frame(opcode, payload)
            except FrameError as invalid:
                self._failed(invalid)
        if error is not None:
            self._failed(error)
            for opcode, payload in self._reader.feed(b"")[0]:  # what followed: the client's close frame, if any
                self._on_frame(opcode, payload)

    def _failed(self, error: FrameError) -> None:
        """A protocol violation or a limit: close with its code, as aiohttp does (no reason)."""
        if self.close_info is None:
            self.close_info = (error.code, "Message too big" if error.code == 1009 else error.reason)
        self._start_close(error.code, "")

    def _on_frame(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        assert transport is not None
        if opcode == CLOSE:
            if self._phase == _OPEN:
                code, reason = parse_close(payload)
                if self.close_info is None:
                    closed_with = (1005, "Client-side close frame status not set") if code == 1005 else (code, reason)
                    self.close_info = closed_with
                transport.write(close_frame(1000 if code == 1005 else code))
                self._enter(_CLOSING)
            transport.close()
        elif self._phase != _OPEN:
            return
        elif opcode == TEXT:
            try:
                text = payload.decode("utf-8")
            except UnicodeDecodeError:
                raise FrameError(1007, "Invalid UTF-8 text message") from None
            self._service.dispatch(self, text)
        elif opcode == BINARY:
            self.close_info = (1003, "Unsupported binary frame")
            self._start_close(1003, "Unsupported binary frame")
        elif opcode == PING:
            transport.write(frame(PONG, payload))

    def eof_received(self) -> bool | None:
        return None

    # --- writing and closing --------------------------------------------------------------------------------

    async def send(self, data: bytes) -> bool:
        transport = self.transport
        if self._phase != _OPEN or transport is None:
            return False
        transport.write(frame(TEXT, data))
        return not self.drop_if_not_reading()

    def _start_close(self, code: int, reason: str) -> None:
        """Send a close frame; from then on only the client's close frame is read, for at most CLOSE_TIMEOUT."""
        transport = self.transport
        if self._phase != _OPEN or transport is None:
            return
        transport.write(close_frame(code, reason))
        self._enter(_CLOSING)
        self._reader.discard()
        self._closer = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT, transport.abort)

    async def close(self, code: int, reason: str) -> None:
        if self._phase == _HANDSHAKE:
            return
        self._start_close(code, reason)
        if self._phase != _CLOSED:
            if self._closed is None:
                self._closed = asyncio.get_running_loop().create_future()
            await asyncio.shield(self._closed)

    def connection_lost(self, exc: Exception | None) -> None:
        self._enter(_CLOSED)
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        self._service.lost(self)
        if self._closed is not None and not self._closed.done():
            self._closed.set_result(None)


class WebSocketService:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway
        self.handlers = BackgroundTasks()
        """Tasks to wait for at shutdown: aiohttp-served connections' handlers and every ``$disconnect``."""
        self.paths = {"/", f"/{gateway.stage}"}

    # --- handshake, fast lane -------------------------------------------------------------------------------

    def upgrade(self, transport: asyncio.Transport, head: bytes, rest: bytes = b"") -> bool:
        """Take over a connection whose request ``head`` (up to, not including, the blank line) is a plain
        WebSocket handshake on the API's paths: the transport's protocol becomes a :class:`Socket`, answered once
        ``$connect`` has run. False, and nothing done, for any other request: aiohttp serves it.

        ``rest``: bytes the client sent after the head."""
        if self.gw.api is None:
            return False
        handshake = parse_handshake(head)
        if handshake is None or handshake.path not in self.paths:
            return False
        peername = transport.get_extra_info("peername")
        source_ip = str(peername[0]) if peername else "127.0.0.1"
        peer = self._peer(source_ip, handshake.user_agent, handshake.host)
        event = self._connect_event(peer, handshake.headers, handshake.query_string)
        socket = Socket(self, peer, transport, rest)
        transport.set_protocol(socket)
        self.gw.background.spawn(self._handshake(socket, event, handshake))
        return True

    async def _handshake(self, socket: Socket, event: dict[str, Any], handshake: Handshake) -> None:
        started = time.perf_counter()
        try:
            outcome = await self._admit(socket, event)
        except Exception:
            log.exception("CONNECT %s failed", socket.id)
            self.gw.connections.pop(socket.id, None)
            outcome = Refusal(500, json.dumps({"message": "Internal server error"}))
        if socket.closed:  # the client left while $connect ran
            self.gw.connections.pop(socket.id, None)
            socket.enter(ConnectionState.CLOSED)
            if not isinstance(outcome, Refusal):  # it was admitted: API Gateway runs $disconnect for it
                self._schedule_disconnect(socket, *(socket.close_info or (1006, "")))
        elif isinstance(outcome, Refusal):
            socket.refuse(outcome)
        else:
            protocol = next((p for p in handshake.protocols if p in outcome), None)
            socket.accept(handshake.key, protocol)
            log.debug("CONNECT %s open after %.1f ms", socket.id, (time.perf_counter() - started) * 1000)

    def dispatch(self, connection: Connection, body: str) -> None:
        """A text message arrived: invoke its route (in a task of its own)."""
        connection.last_active = now_ms()
        self.gw.background.spawn(self._on_message(connection, body))

    def lost(self, socket: Socket) -> None:
        """A :class:`Socket`'s transport closed: ``$disconnect`` if it had been open."""
        was_open = socket.state is ConnectionState.OPEN
        socket.enter(ConnectionState.CLOSED)
        if self.gw.connections.get(socket.id) is socket:
            del self.gw.connections[socket.id]
        if was_open:
            self._schedule_disconnect(socket, *(socket.close_info or (1006, "")))

    def _schedule_disconnect(self, connection: Connection, code: int, reason: str) -> None:
        self.handlers.spawn(self._run_disconnect(connection, code, reason))

    # --- handshake, aiohttp ---------------------------------------------------------------------------------

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
            self.handlers.hold(task)
        try:
            while await self._received(connection, ws, await ws.receive()):
                pass
        finally:
            if task is not None:
                self.handlers.release(task)
            await self._disconnected(connection, ws)
        return ws

    async def _open(self, request: web.Request) -> Connection | web.StreamResponse:
        """Run ``$connect`` (and its authorizer), then complete the handshake: the open connection, or the refusal."""
        gw = self.gw
        started = time.perf_counter()
        peername = request.transport.get_extra_info("peername") if request.transport else None
        source_ip = str(peername[0]) if peername else "127.0.0.1"
        peer = self._peer(source_ip, request.headers.get("User-Agent", ""), request.host)
        raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
        event = self._connect_event(peer, raw, request.rel_url.raw_query_string)
        connection = Connection(peer)
        outcome = await self._admit(connection, event)
        if isinstance(outcome, Refusal):
            return web.Response(status=outcome.status, text=outcome.body, content_type="application/json")
        ws = LimitedWebSocketResponse(
            frame_limit=gw.config.frame_limit,
            protocols=outcome,
            max_msg_size=gw.config.message_limit + 1,  # aiohttp refuses sizes >= max_msg_size
            compress=False,
            autoping=True,
            writer_limit=2**62,  # never wait for a client to drain: drop_if_not_reading bounds its backlog
        )
        try:
            await ws.prepare(request)
        except Exception:  # the client left while $connect ran: it was admitted, so it gets its $disconnect
            gw.connections.pop(peer.connection_id, None)
            self._schedule_disconnect(connection, 1006, "")
            raise
        connection.ws = ws
        connection.transport = request.transport
        connection.enter(ConnectionState.OPEN)
        log.debug("CONNECT %s open after %.1f ms", peer.connection_id, (time.perf_counter() - started) * 1000)
        return connection

    # --- handshake, both ------------------------------------------------------------------------------------

    def _peer(self, source_ip: str, user_agent: str, host: str) -> Peer:
        api = self.gw.api
        assert api is not None
        return Peer(
            connection_id=gateway_id(),
            connected_at=now_ms(),
            source_ip=_shared(source_ip),
            user_agent=_shared(user_agent),
            domain_name=self.gw.domain_name or _shared(host),
            stage=self.gw.stage,
            api_id=api.api_id,
        )

    def _connect_event(self, peer: Peer, raw_headers: list[tuple[str, str]], query_string: str) -> dict[str, Any]:
        when = peer.connected_at
        headers = connect_headers(raw_headers, source_ip=peer.source_ip, port=self.gw.config.port, now_ms=when)
        return connect_event(peer, headers=headers, query_string=query_string, now_ms=when, request_id=gateway_id())

    async def _admit(self, connection: Connection, event: dict[str, Any]) -> Refusal | tuple[str, ...]:
        """The connection quota, the authorizer and ``$connect``: the refusal to answer, or the subprotocols the
        ``$connect`` response names. An admitted connection is registered (``CONNECTING``)."""
        gw = self.gw
        api = gw.api
        assert api is not None
        if not gw.connect_quota.allow():
            log.warning("CONNECT refused: new-connection quota (%s/s) exceeded -> 429", gw.config.connect_rate)
            return Refusal(429, json.dumps({"message": "Too Many Requests"}))
        route = api.routes.get("$connect")
        if route is not None and route.authorizer is not None:
            verdict = await auth.authorize(gw, route.authorizer, event)
            if verdict.status != 200:
                log.info("CONNECT %s authorizer %s -> %d", connection.id, route.authorizer.name, verdict.status)
                return Refusal(verdict.status, json.dumps({"message": verdict.message}))
            connection.authorizer = verdict.context
            event["requestContext"]["authorizer"] = verdict.context

        gw.connections[connection.id] = connection
        protocols = tuple[str, ...]()
        if route is None or route.function is None:
            log.info("CONNECT %s (no $connect integration) -> 200", connection.id)
            return protocols
        status, result = await self._invoke(route.function, event, "CONNECT", connection, "$connect")
        if not _is_2xx(status):
            gw.connections.pop(connection.id, None)
            connection.enter(ConnectionState.CLOSED)
            body = _body_of(result) if status != 502 else json.dumps({"message": "Internal server error"})
            return Refusal(status, body or "")
        resp_headers = result.get("headers") if isinstance(result, dict) else None
        if isinstance(resp_headers, dict):
            for name, value in resp_headers.items():
                if name.lower() == "sec-websocket-protocol":
                    protocols = (str(value),)
        return protocols

    # --- messages -------------------------------------------------------------------------------------------

    async def _received(self, connection: Connection, ws: web.WebSocketResponse, message: WSMessage) -> bool:
        """Act on one message aiohttp received; False once the connection is over."""
        kind = message.type
        if kind is WSMsgType.TEXT:
            self.dispatch(connection, message.data)
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
        return await connection.send(text.encode("utf-8"))

    async def _send_json(self, connection: Connection, payload: dict[str, Any]) -> None:
        await self.send_text(connection, json.dumps(payload))

    # --- closing --------------------------------------------------------------------------------------------

    async def close(self, connection: Connection, code: int, reason: str) -> None:
        """Close a connection from the gateway's side; its handler then runs ``$disconnect``."""
        if connection.close_info is None:
            connection.close_info = (code, reason)
        await connection.close(code, reason)

    async def _disconnected(self, connection: Connection, ws: web.WebSocketResponse) -> None:
        connection.enter(ConnectionState.CLOSED)
        self.gw.connections.pop(connection.id, None)
        if not ws.closed:
            await ws.close()
        code, reason = connection.close_info or (ws.close_code or 1006, "")
        await self._run_disconnect(connection, code, reason)

    async def _run_disconnect(self, connection: Connection, code: int, reason: str) -> None:
        api = self.gw.api
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
                if connection.state is not ConnectionState.OPEN:
                    continue
                if now - connection.peer.connected_at >= max_ms:
                    log.info("LIMIT      %s maximum connection duration reached", connection.id)
                elif now - connection.last_active >= idle_ms:
                    log.info("LIMIT      %s idle timeout", connection.id)
                else:
                    continue
                self.gw.background.spawn(self.close(connection, *GOING_AWAY))

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Close every connection (1001) and wait for their ``$disconnect`` invocations."""
        connections = [c for c in self.gw.connections.values() if c.state is ConnectionState.OPEN]
        await asyncio.gather(*(self.close(c, *GOING_AWAY) for c in connections), return_exceptions=True)
        await self.handlers.wait(timeout)
