"""Shared pieces: the stack under test (Redis + ``python -m local``), clients, statistics and result rows."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import websockets
from websockets.asyncio.client import ClientConnection

from connection_service.tokens import issue_token
from local.redis_server import RedisServer
from local.testing import LocalGateway

if TYPE_CHECKING:
    from .clients import Client

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
FLOOR_TEMPLATE = ROOT / "bench" / "floor" / "template.yaml"
"""The service's WebSocket API with functions that do nothing: what the emulator costs on its own."""
SECRET = "bench-secret-0123456789abcdef0123456789abcdef"
SERVICE_KEY = "bench-internal-service-key"
CLK_TCK = os.sysconf("SC_CLK_TCK")
OTHERS_NOTE = 0.5  # other processes using half a core or more during a measurement is worth a note
LAG_NOTE_MS = 20.0  # an open-loop sender slipping this much (p99) behind its schedule is worth a note

# The service's own limits are raised so that they never refuse benchmark load (they are measured elsewhere);
# the emulator's API Gateway account connect rate (500/s) is lifted with --connect-rate 0.
GATEWAY_ENV: dict[str, str | None] = {
    "JWT_SECRET": SECRET,
    "INTERNAL_SERVICE_KEY": SERVICE_KEY,
    "MAX_CONNECTIONS_PER_TENANT": "1000000",
    "MAX_CONNECTIONS_PER_USER": "1000000",
    "CONNECT_RATE_LIMIT_PER_MINUTE": "100000000",
    "MESSAGE_RATE_LIMIT_PER_SECOND": "1000",
    "MESSAGE_RATE_LIMIT_BURST": "1000",
}


@dataclass
class Row:
    """One figure of the report: measured value next to its target."""

    scenario: str
    metric: str
    value: float | None
    unit: str
    target: str = ""
    verdict: str = "INFO"  # PASS | MISS | INFO
    note: str = ""

    @staticmethod
    def check(
        scenario: str, metric: str, value: float | None, unit: str, target: str, ok: bool | None, note: str = ""
    ) -> Row:
        verdict = "INFO" if ok is None else ("PASS" if ok else "MISS")
        return Row(scenario, metric, value, unit, target, verdict, note)


@dataclass
class Outcome:
    """What a scenario returns: its rows, free-form details (for the JSON) and warnings."""

    rows: list[Row] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def summary_ms(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max/mean in milliseconds of durations given in seconds."""
    if not values:
        return {}
    return {
        "p50": percentile(values, 50) * 1000,
        "p95": percentile(values, 95) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": max(values) * 1000,
        "mean": statistics.fmean(values) * 1000,
    }


def fmt(value: float | None) -> str:
    """A figure for the tables: thousands separated, two significant decimals below 10."""
    if value is None:
        return "—"
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def raise_nofile() -> int:
    """Raise this process's soft RLIMIT_NOFILE to its hard limit (children, the gateway, inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def _process_tree(pid: int) -> list[tuple[int, list[str]]]:
    """``/proc/<pid>/stat`` fields of a process and of each of its live descendants (the local gateway runs every
    execution environment as a child process)."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited meanwhile
            continue
        stats[int(entry.name)] = fields
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[tuple[int, list[str]]] = []
    todo = [pid]
    while todo:
        current = todo.pop()
        if (stat := stats.get(current)) is not None:
            found.append((current, stat))
        todo += children.get(current, [])
    return found


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and of its descendants, the live ones and those it has reaped."""
    return sum(sum(int(f) for f in stat[11:15]) for _, stat in _process_tree(pid)) / CLK_TCK  # u/s time, reaped too


def proc_rss_kb(pid: int) -> int:
    """VmRSS of a process in KB, from /proc/<pid>/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def tree_rss_kb(pid: int) -> tuple[int, int]:
    """VmRSS in KB of a process, and of all its descendants together (each counted whole: an upper bound)."""
    own = proc_rss_kb(pid)
    others = 0
    for child, _ in _process_tree(pid):
        if child != pid:
            with contextlib.suppress(OSError, RuntimeError):
                others += proc_rss_kb(child)
    return own, others


def machine_busy_s() -> float:
    """CPU seconds all processes on the machine have used (every core's non-idle time), from /proc/stat."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK  # all but idle and iowait


class CpuMeter:
    """CPU used over a timed section, as shares of one core: by this (client) process, by the server (its process
    tree, if its pid is known) and by everything else on the machine (Redis, and other people's work)."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.wall = self.client = self.busy = 0.0
        self.server: float | None = None

    def __enter__(self) -> CpuMeter:
        self._t = time.perf_counter()
        self._c = time.process_time()
        self._s = tree_cpu_s(self.server_pid) if self.server_pid else 0.0
        self._m = machine_busy_s()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t
        self.client = time.process_time() - self._c
        self.server = tree_cpu_s(self.server_pid) - self._s if self.server_pid else None
        self.busy = machine_busy_s() - self._m

    def as_dict(self) -> dict[str, float | None]:
        wall = self.wall or 1e-9
        server = self.server / wall if self.server is not None else None
        others = max(0.0, self.busy - self.client - (self.server or 0.0)) / wall
        return {
            "wall_s": self.wall,
            "client_core_share": self.client / wall,
            "server_core_share": server,
            "others_core_share": others,  # includes the server when its pid is unknown
            "cores": float(os.cpu_count() or 1),
        }

    def warning(self, what: str) -> str | None:
        """A note when the one client process, not the server, was the likely limit, or the machine was busy."""
        return cpu_note(what, self.as_dict())


def cpu_note(what: str, cpu: Mapping[str, float | None], lag_ms: float = 0.0) -> str | None:
    """Why figures may say more about the client or the machine than about the server (``cpu``:
    :meth:`CpuMeter.as_dict`; ``lag_ms``: how far an open-loop sender fell behind its schedule)."""
    client = cpu.get("client_core_share") or 0.0
    server, others = cpu.get("server_core_share"), cpu.get("others_core_share") or 0.0
    used = f"client {client:.0%}, " + (f"server {server:.0%}, " if server is not None else "") + f"others {others:.0%}"
    where = f"({used} of a core; {os.cpu_count()} cores)"
    if client >= 0.85:
        return (
            f"{what}: one client process is near its limit {where}, so these figures are a lower bound for the "
            "server, not its ceiling"
        )
    if others >= OTHERS_NOTE or lag_ms >= LAG_NOTE_MS:
        lag = f"; the sender fell up to {lag_ms:.0f} ms (p99) behind schedule" if lag_ms >= LAG_NOTE_MS else ""
        return (
            f"{what}: other processes kept the machine's CPUs busy {where}{lag}: the server may have got less CPU "
            "than it could use; compare only figures measured under the same conditions"
        )
    return None


def token(tenant: str, user: str, secret: str = SECRET) -> str:
    """HS256 with ``sub``, ``tenant_id``, ``iat``, ``exp``: what both targets accept."""
    return issue_token(secret, tenant, user, 3600, time.time())


def call_incoming(seq: int) -> dict[str, Any]:
    """A valid ``call_incoming`` body (connection_service.event_catalog.CallIncoming) tagged with ``seq``."""
    data = {"callId": f"c{seq}", "from": "+15550001111", "to": "+15550002222", "seq": seq}
    return {"event": "call_incoming", "data": data}


def seq_of(event: dict[str, Any]) -> int | None:
    data = event.get("data")
    seq = data.get("seq") if isinstance(data, dict) else None
    return seq if isinstance(seq, int) else None


@contextlib.contextmanager
def stack(
    *,
    log_level: str = "WARNING",
    redis_url: str | None = None,
    extra_env: Mapping[str, str] | None = None,
    template: Path = TEMPLATE,
) -> Iterator[Stack]:
    """A gateway (``template``: by default this repo's template.yaml) on a fresh Redis (or ``redis_url``); all
    stopped on exit, error or Ctrl-C."""
    with contextlib.ExitStack() as exits:
        if redis_url is None:
            redis_url = exits.enter_context(RedisServer()).url
        env = dict(GATEWAY_ENV)
        env["REDIS_URL"] = redis_url
        env.update(extra_env or {})
        args = ["--schedules", "off", "--connect-rate", "0", "--log-level", log_level]
        gateway = exits.enter_context(LocalGateway(template, env=env, cwd=ROOT, args=args))
        yield Stack(redis_url, gateway)


@dataclass
class Stack:
    redis_url: str
    gateway: LocalGateway

    @property
    def pid(self) -> int:
        assert self.gateway.process is not None
        return self.gateway.process.pid


async def connect(url: str, tok: str, *, hello: bool = True, timeout: float = 30.0) -> ClientConnection:
    """Open a dashboard socket with a token; with ``hello``, return once ``authenticated`` arrived."""
    ws = await websockets.connect(
        f"{url}?token={tok}",
        compression=None,
        ping_interval=None,
        open_timeout=timeout,
        max_queue=None,
        proxy=None,  # loopback: no proxy lookup, which reads the whole environment on every connect
    )
    if hello:
        try:
            await ws.send('{"action":"hello","requestId":"h"}')
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
                if frame.get("event") == "authenticated":
                    break
                if frame.get("event") == "error":
                    raise RuntimeError(f"hello refused: {frame}")
        except BaseException:
            await ws.close()
            raise
    return ws


@dataclass
class Opened:
    clients: list[Client]
    order: list[int]  # index in ``tokens`` of each of ``clients`` (they open in any order)
    latencies: list[float]
    errors: list[str]
    elapsed: float


async def open_many(new_client: Callable[[], Client], tokens: Sequence[str], in_flight: int) -> Opened:
    """Open one client per token, at most ``in_flight`` handshakes at once; time each token→authenticated."""
    gate = asyncio.Semaphore(in_flight)
    clients: list[Client] = []
    order: list[int] = []
    latencies: list[float] = []
    errors: list[str] = []

    async def one(index: int, tok: str) -> None:
        async with gate:
            started = time.perf_counter()
            client = new_client()
            try:
                await client.connect(tok)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return
            latencies.append(time.perf_counter() - started)
            clients.append(client)
            order.append(index)

    started = time.perf_counter()
    await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
    return Opened(clients, order, latencies, errors, time.perf_counter() - started)


class Closable(Protocol):
    async def close(self) -> None: ...


async def close_all(sockets: Sequence[Closable], batch: int = 200) -> None:
    for i in range(0, len(sockets), batch):
        await asyncio.gather(*(ws.close() for ws in sockets[i : i + batch]), return_exceptions=True)
