"""Scenario 5: Redis commands (INFO commandstats deltas) and round trips per connect / message / broadcast.

The gateway reaches Redis through a counting TCP proxy: a round trip is a client write that follows a server
reply (or opens a connection's traffic), so a pipeline or a Lua script counts once however many commands it
holds. Commands are counted by Redis itself (``INFO commandstats``; Lua's inner commands included).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import httpx
import redis.asyncio as aioredis
from websockets.asyncio.client import ClientConnection

from local.redis_server import RedisServer
from local.testing import LocalGateway

from .common import SERVICE_KEY, Outcome, Row, Stack, close_all, connect, stack, token

TARGET = 2.0


class RoundTripProxy:
    """127.0.0.1 TCP proxy in front of Redis counting request turns."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.round_trips = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self.connections += 1
        waiting = [False]  # a request was sent and its reply has not started yet

        async def requests() -> None:
            while data := await reader.read(65536):
                if not waiting[0]:
                    self.round_trips += 1
                    waiting[0] = True
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def replies() -> None:
            while data := await up_reader.read(65536):
                waiting[0] = False
                writer.write(data)
                await writer.drain()
            writer.close()

        for coro in (requests(), replies()):
            task = asyncio.create_task(coro)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)


async def commandstats(client: aioredis.Redis) -> Counter[str]:
    info = await client.info("commandstats")
    return Counter({k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items() if k != "cmdstat_info"})


async def wait_lines(gateway: LocalGateway, since: int, pattern: str, count: int, timeout: float = 20.0) -> None:
    """Wait until ``count`` log lines after ``since`` match: the invocations (and their Redis calls) ended."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while sum(1 for line in gateway.log_lines[since:] if regex.search(line)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited for {count} x {pattern!r}:\n{gateway.logs_tail(20)}")
        await asyncio.sleep(0.02)


async def run(ops: int, tenant_size: int) -> Outcome:
    out = Outcome()
    with RedisServer() as redis_server:
        proxy = RoundTripProxy(redis_server.host, redis_server.port)
        port = await proxy.start()
        try:
            with stack(log_level="INFO", redis_url=f"redis://127.0.0.1:{port}") as st:
                await _measure(out, st, proxy, redis_server.url, ops, tenant_size)
        finally:
            await proxy.stop()
    return out


class _Meter:
    """Redis round trips and commands per operation: the proxy's count and the server's commandstats, before and
    after ``count`` operations whose completion the gateway's log shows."""

    def __init__(self, gateway: LocalGateway, proxy: RoundTripProxy, stats: aioredis.Redis) -> None:
        self.gateway, self.proxy, self.stats = gateway, proxy, stats
        self.measured: dict[str, dict[str, object]] = {}

    async def measure(self, label: str, action: Callable[[], Awaitable[None]], pattern: str, count: int) -> None:
        proxy = self.proxy
        mark = self.gateway.mark()
        commands, trips, opened = await commandstats(self.stats), proxy.round_trips, proxy.connections
        await action()
        await wait_lines(self.gateway, mark, pattern, count)
        await asyncio.sleep(0.1)
        delta = await commandstats(self.stats) - commands
        self.measured[label] = {
            "round_trips": (proxy.round_trips - trips) / count,
            "commands": sum(delta.values()) / count,
            "by_command": {k: v / count for k, v in sorted(delta.items())},
            "new_redis_connections": proxy.connections - opened,
        }


async def _measure(out: Outcome, st: Stack, proxy: RoundTripProxy, direct_url: str, ops: int, size: int) -> None:
    gw = st.gateway
    stats = aioredis.Redis.from_url(direct_url)
    http = httpx.AsyncClient(base_url=gw.base_url, headers={"X-Internal-Service-Key": SERVICE_KEY}, timeout=60)
    sockets: list[ClientConnection] = []
    meter = _Meter(gw, proxy, stats)
    try:
        await _warm_up(gw, http)
        await _connections_and_messages(meter, sockets, ops)
        await _broadcasts(meter, http, sockets, ops, size)
        await _disconnects(meter, sockets, ops)
        await close_all(sockets[ops:])
    finally:
        await close_all(sockets)
        await http.aclose()
        await stats.aclose()
    _report(out, meter.measured)


async def _warm_up(gw: LocalGateway, http: httpx.AsyncClient) -> None:
    """Every path once (cold imports, pools, the @connections client), not measured."""
    warm = [await connect(gw.ws_url, token("rt-warm", f"w{i}")) for i in range(3)]
    for frame in (
        '{"action":"ping","requestId":"p"}',
        '{"action":"subscribe_conversation","data":{"conversationId":"w"}}',
    ):
        await warm[0].send(frame)
        await warm[0].recv()
    (await http.post("/broadcast/tenant/rt-warm", json=_event())).raise_for_status()
    await close_all(warm)
    await asyncio.sleep(0.3)


async def _connections_and_messages(meter: _Meter, sockets: list[ClientConnection], ops: int) -> None:
    ws_url = meter.gateway.ws_url

    async def connects() -> None:
        for i in range(ops):
            sockets.append(await connect(ws_url, token("rt-a", f"u{i}"), hello=False))

    await meter.measure("connect", connects, r"\bCONNECT +\S+ \$connect -> \S+ 200", ops)
    for action, data in (("hello", "{}"), ("ping", "{}"), ("subscribe_conversation", '{"conversationId":"c1"}')):

        async def messages(action: str = action, data: str = data) -> None:
            for ws in sockets[:ops]:
                await ws.send(f'{{"action":"{action}","requestId":"r","data":{data}}}')
                await ws.recv()

        await meter.measure(f"message: {action}", messages, r"MESSAGE .*-> \S+ 200", ops)


async def _broadcasts(
    meter: _Meter, http: httpx.AsyncClient, sockets: list[ClientConnection], ops: int, size: int
) -> None:
    large = [await connect(meter.gateway.ws_url, token("rt-large", f"u{i}"), hello=False) for i in range(size)]
    sockets.extend(large)
    for tenant, n in (("rt-a", len(sockets) - size), ("rt-large", size)):

        async def broadcasts(tenant: str = tenant) -> None:
            for _ in range(ops):
                (await http.post(f"/broadcast/tenant/{tenant}", json=_event())).raise_for_status()

        await meter.measure(f"broadcast ({n} recipients)", broadcasts, r"HTTP .*POST /broadcast", ops)


async def _disconnects(meter: _Meter, sockets: list[ClientConnection], ops: int) -> None:
    gw = meter.gateway

    async def disconnects() -> None:  # one at a time, like the other operations: no pool growth counted
        for ws in sockets[:ops]:
            mark = gw.mark()
            await ws.close()
            await wait_lines(gw, mark, r"DISCONNECT .*-> \S+ 200", 1)

    await meter.measure("disconnect", disconnects, r"DISCONNECT .*-> \S+ 200", ops)


def _report(out: Outcome, measured: dict[str, dict[str, object]]) -> None:
    for label, m in measured.items():
        out.rows.append(_round_trip_row(label, m))
    sizes = [m["round_trips"] for label, m in measured.items() if label.startswith("broadcast")]
    if len(sizes) == 2:
        out.rows.append(
            Row.check(
                "redis",
                "broadcast round trips independent of tenant size",
                None,
                "",
                "equal",
                sizes[0] == sizes[1],
                f"{sizes[0]} vs {sizes[1]}",
            )
        )
    out.details = measured


_BUDGET = {"connect", "disconnect", "message: hello", "message: ping", "message: subscribe_conversation"}


def _round_trip_row(label: str, m: dict[str, object]) -> Row:
    trips = float(m["round_trips"])  # type: ignore[arg-type]
    checked = label in _BUDGET or label.startswith("broadcast")
    by = m["by_command"]
    assert isinstance(by, dict)
    note = f"{m['commands']:.1f} commands: " + ", ".join(f"{k} {v:g}" for k, v in by.items())
    if m["new_redis_connections"]:
        note += f" (incl. set-up of {m['new_redis_connections']} new pool connections)"
    return Row.check(
        "redis",
        f"round trips per {label}",
        trips,
        "RTT",
        f"<= {TARGET:.0f}" if checked else "",
        trips <= TARGET if checked else None,
        note,
    )


def _event() -> dict[str, object]:
    return {"event": "call_incoming", "data": {"callId": "c1", "from": "+15550001111", "to": "+15550002222"}}
