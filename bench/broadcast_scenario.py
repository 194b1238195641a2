"""Scenario 2: POST /broadcast/tenant/{t} → the last of N clients received the frame; exactly-once.

Each event carries a unique ``data.seq`` (both targets pass extra data fields through), which identifies it.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections import Counter

import httpx

from .clients import Client
from .common import CpuMeter, Outcome, Row, call_incoming, close_all, open_many, seq_of, summary_ms
from .targets import TargetOptions, open_target

TENANT, OTHER = "bench-a", "bench-b"
TARGET_P50_MS = 100.0
TARGET_RATE = 10_000.0


class Tally:
    """Every event every client received, by ``data.seq``."""

    def __init__(self, recipients: int) -> None:
        self.recipients = recipients
        self.per_client: list[Counter[int]] = []
        self.received: Counter[int] = Counter()
        self.last_at: dict[int, float] = {}
        self.complete: dict[int, asyncio.Event] = {}
        self.cross_tenant = 0
        self.other_frames = 0

    def done(self, seq: int) -> asyncio.Event:
        return self.complete.setdefault(seq, asyncio.Event())

    async def read(self, client: Client, own: bool) -> None:
        seen: Counter[int] = Counter()
        if own:
            self.per_client.append(seen)
        async for event in client:
            now = time.perf_counter()
            if not own or event.get("tenantId") != TENANT:
                self.cross_tenant += 1
                continue
            seq = seq_of(event)
            if seq is None:
                self.other_frames += 1
                continue
            seen[seq] += 1
            self.received[seq] += 1
            self.last_at[seq] = now
            if self.received[seq] == self.recipients:
                self.done(seq).set()


async def run(options: TargetOptions, connections: int, others: int, rounds: int, in_flight: int = 50) -> Outcome:
    out = Outcome()
    with open_target(options) as target:
        own = await open_many(target.new_client, [target.token(TENANT, f"u{i}") for i in range(connections)], in_flight)
        other = await open_many(target.new_client, [target.token(OTHER, f"o{i}") for i in range(others)], in_flight)
        readers: list[asyncio.Task[None]] = []
        try:
            if own.errors or other.errors:
                raise RuntimeError(f"could not open the clients: {(own.errors + other.errors)[:3]}")
            tally = Tally(connections)
            readers = [asyncio.create_task(tally.read(c, True)) for c in own.clients]
            readers += [asyncio.create_task(tally.read(c, False)) for c in other.clients]
            async with httpx.AsyncClient(base_url=target.base_url, headers=target.headers, timeout=60) as http:

                async def broadcast(seq: int) -> tuple[float, float]:
                    started = time.perf_counter()
                    answer = await http.post(f"/broadcast/tenant/{TENANT}", json=call_incoming(seq))
                    answered = time.perf_counter() - started
                    answer.raise_for_status()
                    try:
                        await asyncio.wait_for(tally.done(seq).wait(), 30)
                    except asyncio.TimeoutError:
                        return answered, float("nan")
                    return answered, tally.last_at[seq] - started

                cold = await broadcast(0)  # imports FastAPI/boto3 and builds the @connections client
                latencies: list[float] = []
                answers: list[float] = []
                with CpuMeter(target.pid) as cpu:
                    for seq in range(1, rounds + 1):
                        answered, last = await broadcast(seq)
                        answers.append(answered)
                        if not math.isnan(last):  # NaN: some client never got it (counted as lost)
                            latencies.append(last)
            await asyncio.sleep(0.5)  # late duplicates or strays would arrive now
            expected = range(rounds + 1)
            lost = sum(1 for seen in tally.per_client for i in expected if seen[i] == 0)
            duplicated = sum(seen[i] - 1 for seen in tally.per_client for i in expected if seen[i] > 1)
            unknown = sum(n for seen in tally.per_client for i, n in seen.items() if i not in expected)
            lat = summary_ms(latencies)
            rates = [connections / x for x in latencies]
            rate = statistics.median(rates) if rates else 0.0
            s = "broadcast"
            who = f"{connections:,} clients"
            out.rows += [
                Row.check(s, f"POST → last delivery p50 ({who})", lat.get("p50"), "ms", f"<= {TARGET_P50_MS:.0f} ms",
                          bool(lat) and lat["p50"] <= TARGET_P50_MS),
                Row.check(s, "POST → last delivery p99", lat.get("p99"), "ms", "", None),
                Row.check(s, "deliveries/s (median round)", rate, "msg/s", f">= {TARGET_RATE:,.0f}",
                          rate >= TARGET_RATE),
                Row.check(s, "POST answer p50", summary_ms(answers).get("p50"), "ms", "", None),
                Row.check(s, "first (cold) broadcast → last delivery", cold[1] * 1000, "ms", "", None),
                Row.check(s, "lost deliveries", float(lost), "", "0", lost == 0),
                Row.check(s, "duplicated deliveries", float(duplicated), "", "0", duplicated == 0),
                Row.check(s, f"cross-tenant deliveries ({others} clients of {OTHER})", float(tally.cross_tenant),
                          "", "0", tally.cross_tenant == 0 and unknown == 0),
            ]  # fmt: skip
            out.details = {
                "connections": connections,
                "other_tenant_connections": others,
                "rounds": rounds,
                "latency_ms": lat,
                "per_round_ms": [x * 1000 for x in latencies],
                "post_answer_ms": summary_ms(answers),
                "cold_broadcast_ms": cold[1] * 1000,
                "deliveries_per_s_median": rate,
                "incomplete_rounds": rounds - len(latencies),
                "lost": lost,
                "duplicated": duplicated,
                "cross_tenant": tally.cross_tenant,
                "unknown_seqs": unknown,
                "frames_without_seq": tally.other_frames,
                "cpu": cpu.as_dict(),
            }
            if note := cpu.warning("broadcast"):
                out.warnings.append(note)
        finally:
            await close_all(own.clients + other.clients)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    return out
