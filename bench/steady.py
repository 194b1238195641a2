"""Scenario 6: steady multi-tenant load, open loop; and the highest rate the server sustains.

``tenants x per_tenant`` clients connect first. Then POST /broadcast/tenant/{t} goes out at a fixed rate, tenants
round-robin, event ``i`` at ``t0 + i / rate`` whether or not earlier POSTs have answered (open loop: a slow server
builds a queue instead of slowing the load down). Each event carries a unique ``data.seq``; each client notes when
each seq reached it. Per event, latency is the last of its tenant's clients' arrival minus the POST's send time.

A window passes when p99 ≤ 100 ms, nothing is lost, duplicated or cross-tenant, and the achieved rate (2xx
answers per second, from the first send to the last 2xx answer, at least the window) is ≥ 98% of the offered.
Before the measured window, 1 s warm-up windows at the same rate run until one passes (at most 3). The search
steps up a ladder of rates on shorter windows until one fails (twice in a row), then bisects between the last
pass and that failure; the clients stay connected throughout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp

from .clients import Client
from .common import CpuMeter, Outcome, Row, call_incoming, close_all, cpu_note, fmt, open_many, percentile, seq_of
from .targets import Target, TargetOptions, open_target

TARGET_P99_MS = 100.0
MIN_ACHIEVED = 0.98
DRAIN_S = 5.0  # after the last POST answered, at most this long for the outstanding deliveries
QUIET_S = 0.3  # between search steps: no frame for this long means the previous step's backlog is gone
POST_TIMEOUT_S = 10.0
WARM_UP_TRIES = 3
LADDER = (167, 250, 350, 500, 700, 1000, 1400, 2000, 2800, 4000)


class Deliveries:
    """Arrivals of every event at every client by ``data.seq``, and when the current window is complete."""

    def __init__(self) -> None:
        self.recipients: dict[int, int] = {}  # seq → clients its tenant has
        self.count: Counter[int] = Counter()
        self.last_at: dict[int, float] = {}
        self.duplicated = self.cross_tenant = self.other = 0
        self.waiting: set[int] = set()  # seqs of this window not yet at all their recipients
        self.sending = False
        self.all_in = asyncio.Event()
        self.arrived = asyncio.Event()  # set on every frame: lets the quiet check wait without polling

    def start(self) -> None:
        self.waiting.clear()
        self.sending = True
        self.all_in.clear()

    def expect(self, seq: int, recipients: int) -> None:
        self.recipients[seq] = recipients
        if recipients:
            self.waiting.add(seq)

    def forget(self, seq: int) -> None:
        """Its POST failed: nobody is owed this event."""
        self.waiting.discard(seq)
        self._check()

    def sent_all(self) -> None:
        self.sending = False
        self._check()

    def _check(self) -> None:
        if not self.sending and not self.waiting:
            self.all_in.set()

    async def read(self, client: Client, tenant: str) -> None:
        seen: set[int] = set()
        async for event in client:
            now = time.perf_counter()
            self.arrived.set()
            if event.get("tenantId") != tenant:
                self.cross_tenant += 1
                continue
            seq = seq_of(event)
            if seq is None:
                self.other += 1
                continue
            if seq in seen:
                self.duplicated += 1
                continue
            seen.add(seq)
            self.count[seq] += 1
            self.last_at[seq] = now
            if self.count[seq] == self.recipients.get(seq):
                self.waiting.discard(seq)
                self._check()

    async def quiet(self, limit: float = 5.0) -> None:
        """Return once no frame has arrived for QUIET_S (at most ``limit`` seconds)."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), QUIET_S)
            except asyncio.TimeoutError:
                return


@dataclass
class Window:
    """One open-loop window's figures."""

    offered: float
    seconds: float
    sent: int = 0
    ok: int = 0
    failed: int = 0
    timed_out: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # failed POSTs by HTTP status or exception
    achieved: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    lost: int = 0
    duplicated: int = 0
    cross_tenant: int = 0
    drained: bool = True
    send_lag_ms_p99: float = 0.0
    answer_ms_p50: float | None = None
    cpu: dict[str, float | None] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        p99 = self.latency_ms.get("p99")
        clean = not (self.lost or self.duplicated or self.cross_tenant)
        return p99 is not None and p99 <= TARGET_P99_MS and clean and self.achieved >= MIN_ACHIEVED * self.offered

    def brief(self) -> str:
        p99 = self.latency_ms.get("p99")
        verdict = "pass" if self.passed else "FAIL"
        lat = f"p99 {p99:.0f} ms" if p99 is not None else "no complete event"
        return f"{self.offered:g}/s {verdict} ({lat}, achieved {self.achieved:.0f}/s, lost {self.lost})"


def latency_summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {f"p{q}": percentile(values, q) * 1000 for q in (50, 90, 99)} | {"max": max(values) * 1000}


class Load:
    """The connected clients of a steady run and the open-loop sender."""

    def __init__(self, target: Target, http: aiohttp.ClientSession, tenants: list[str], sizes: Counter[str]) -> None:
        self.target, self.http, self.tenants, self.sizes = target, http, tenants, sizes
        self.deliveries = Deliveries()
        self.seqs: Iterator[int] = itertools.count(1)

    async def window(self, rate: float, seconds: float) -> Window:
        d = self.deliveries
        result = Window(rate, seconds)
        total = max(1, round(rate * seconds))
        sent_at: dict[int, float] = {}
        ok: list[int] = []
        answers: list[float] = []
        lags: list[float] = []
        last_ok = 0.0
        dup0, cross0 = d.duplicated, d.cross_tenant

        async def post(seq: int, tenant: str) -> None:
            nonlocal last_ok
            started = sent_at[seq] = time.perf_counter()
            try:
                async with self.http.post(f"/broadcast/tenant/{tenant}", json=call_incoming(seq)) as answer:
                    await answer.read()
                    status = answer.status
            except asyncio.TimeoutError:
                result.timed_out += 1
                d.forget(seq)
                return
            except aiohttp.ClientError as exc:
                result.failed += 1
                result.errors[type(exc).__name__] += 1
                d.forget(seq)
                return
            if 200 <= status < 300:
                last_ok = time.perf_counter()
                answers.append(last_ok - started)
                ok.append(seq)
            else:
                result.failed += 1
                result.errors[f"HTTP {status}"] += 1
                d.forget(seq)

        d.start()
        tasks: list[asyncio.Task[None]] = []
        with CpuMeter(self.target.pid) as cpu:
            t0 = time.perf_counter() + 0.01
            for i in range(total):
                due = t0 + i / rate
                if (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                lags.append(time.perf_counter() - due)
                seq, tenant = next(self.seqs), self.tenants[i % len(self.tenants)]
                d.expect(seq, self.sizes[tenant])
                tasks.append(asyncio.create_task(post(seq, tenant)))
            await asyncio.gather(*tasks)
            d.sent_all()
            try:
                await asyncio.wait_for(d.all_in.wait(), DRAIN_S)
            except asyncio.TimeoutError:
                result.drained = False
        result.sent = total
        result.ok = len(ok)
        result.achieved = len(ok) / max(seconds, last_ok - t0)
        result.latency_ms = latency_summary([d.last_at[s] - sent_at[s] for s in ok if s not in d.waiting])
        result.lost = sum(d.recipients[s] - d.count[s] for s in ok)
        result.duplicated, result.cross_tenant = d.duplicated - dup0, d.cross_tenant - cross0
        result.send_lag_ms_p99 = percentile(lags, 99) * 1000
        result.answer_ms_p50 = percentile(answers, 50) * 1000 if answers else None
        result.cpu = cpu.as_dict()
        return result

    async def settled(self, rate: float, seconds: float) -> Window:
        """A window, then the quiet that lets its backlog clear before the next one starts."""
        result = await self.window(rate, seconds)
        await self.deliveries.quiet()
        return result

    async def warm_up(self, rate: float, tries: int = WARM_UP_TRIES) -> list[Window]:
        """1 s windows at ``rate`` until one passes (at most ``tries``): cold imports, pools and any execution
        environments the load makes the server start are behind us before the measured window."""
        windows = [await self.settled(rate, 1.0)]
        while not windows[-1].passed and len(windows) < tries:
            windows.append(await self.settled(rate, 1.0))
        return windows

    async def search(self, seconds: float, bisections: int = 2) -> tuple[float | None, list[Window]]:
        """The highest passing rate: up the ladder to the first failure, then bisect between it and the last pass.
        A rate fails only if it fails twice in a row (one window on a shared machine can catch a stall)."""
        steps: list[Window] = []

        async def passes(rate: float) -> bool:
            for _ in range(2):
                steps.append(await self.settled(rate, seconds))
                if steps[-1].passed:
                    return True
            return False

        best: float | None = None
        failed: float | None = None
        for rate in LADDER:
            if not await passes(rate):
                failed = rate
                break
            best = rate
        if failed is not None:  # between the last pass (or nothing) and the failure
            low, high = best or 0.0, failed
            for _ in range(bisections):
                mid = round((low + high) / 2)
                if mid in (low, high):
                    break
                if await passes(mid):
                    low = best = mid
                else:
                    high = mid
        return best, steps


@contextlib.asynccontextmanager
async def session(target: Target) -> AsyncIterator[aiohttp.ClientSession]:
    """Many POSTs in flight at once: a pool far larger than the concurrency a healthy server needs."""
    connector = aiohttp.TCPConnector(limit=512)
    timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT_S)
    async with aiohttp.ClientSession(
        target.base_url, headers=target.headers, connector=connector, timeout=timeout
    ) as http:
        yield http


def window_rows(s: str, w: Window, label: str, note: str) -> list[Row]:
    lat = w.latency_ms
    failed = w.failed + w.timed_out
    return [
        Row.check(s, f"offered rate ({label})", w.offered, "ev/s", "", None, note),
        Row.check(s, "achieved rate (2xx answers)", w.achieved, "ev/s", f">= {MIN_ACHIEVED:.0%} of offered",
                  w.achieved >= MIN_ACHIEVED * w.offered),
        Row.check(s, "POST → last delivery p50", lat.get("p50"), "ms", "", None),
        Row.check(s, "POST → last delivery p90", lat.get("p90"), "ms", "", None),
        Row.check(s, "POST → last delivery p99", lat.get("p99"), "ms", f"<= {TARGET_P99_MS:.0f} ms",
                  bool(lat) and lat["p99"] <= TARGET_P99_MS),
        Row.check(s, "POST → last delivery max", lat.get("max"), "ms", "", None),
        Row.check(s, "POSTs failed / timed out", float(failed), "", "0", failed == 0,
                  f"{w.timed_out} timed out; failed: {dict(w.errors)}" if failed else ""),
        Row.check(s, "lost deliveries", float(w.lost), "", "0", w.lost == 0,
                  "" if w.drained else f"not all in {DRAIN_S:g} s after the last POST answered"),
        Row.check(s, "duplicated deliveries", float(w.duplicated), "", "0", w.duplicated == 0),
        Row.check(s, "cross-tenant deliveries", float(w.cross_tenant), "", "0", w.cross_tenant == 0),
        Row.check(s, "POST answer p50", w.answer_ms_p50, "ms", "", None),
        Row.check(s, "client send lag p99 (behind schedule)", w.send_lag_ms_p99, "ms", "", None),
        Row.check(s, "CPU of other processes meanwhile", w.cpu.get("others_core_share"), "cores", "", None,
                  f"client {w.cpu.get('client_core_share') or 0:.2f}, server {fmt(w.cpu.get('server_core_share'))}"),
    ]  # fmt: skip


async def run(
    options: TargetOptions,
    tenants: int,
    per_tenant: int,
    rate: float,
    seconds: float,
    search: bool,
    search_seconds: float,
    in_flight: int = 50,
) -> Outcome:
    out = Outcome()
    names = [f"steady-{t}" for t in range(tenants)]
    with open_target(options) as target:
        tokens = [target.token(names[i // per_tenant], f"user-{i}") for i in range(tenants * per_tenant)]
        opened = await open_many(target.new_client, tokens, in_flight)
        if not opened.clients:
            raise RuntimeError(f"no client could connect: {opened.errors[:2]}")
        owner = [names[i // per_tenant] for i in opened.order]
        sizes: Counter[str] = Counter(owner)
        readers: list[asyncio.Task[None]] = []
        try:
            async with session(target) as http:
                load = Load(target, http, names, sizes)
                pairs = zip(opened.clients, owner, strict=True)
                readers = [asyncio.create_task(load.deliveries.read(c, t)) for c, t in pairs]
                warm = await load.warm_up(rate)
                fixed = await load.settled(rate, seconds)
                best, steps = await load.search(search_seconds) if search else (None, [])
            s = "steady"
            who = f"{tenants} tenants x {per_tenant} clients, {seconds:g} s, open loop"
            connected = len(opened.clients)
            out.rows.append(Row.check(s, "clients connected", float(connected), "", f"{len(tokens):,}",
                                      connected == len(tokens), "; ".join(opened.errors[:2])))  # fmt: skip
            out.rows += window_rows(s, fixed, who, f"after {len(warm)} warm-up window(s) of 1 s")
            for w, what in [(fixed, "steady"), *((w, f"steady search at {w.offered:g}/s") for w in steps)]:
                if note := cpu_note(what, w.cpu, w.send_lag_ms_p99):
                    out.warnings.append(note)
                    break
            if search:
                rule = f"p99 <= {TARGET_P99_MS:.0f} ms, 0 lost, >= {MIN_ACHIEVED:.0%} achieved; {search_seconds:g} s"
                out.rows.append(
                    Row.check("steady search", f"highest rate sustained ({rule})", best, "ev/s", "", None,
                              "; ".join(w.brief() for w in steps) + ("" if best else "; none passed")))  # fmt: skip
            out.details = {
                "tenants": tenants,
                "per_tenant": per_tenant,
                "connected": connected,
                "connect_errors": opened.errors[:20],
                "warm_up": [vars(w) for w in warm],
                "fixed": vars(fixed),
                "search": {"highest_rate": best, "steps": [vars(w) for w in steps]} if search else None,
                "frames_without_seq": load.deliveries.other,
            }
        finally:
            await close_all(opened.clients)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    return out
