"""Scenario 2: POST /broadcast/tenant/{t} → the last of N clients received the frame; exactly-once, by id."""

from __future__ import annotations

import asyncio
import json
import math
import statistics
import time
from collections import Counter

import httpx
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from .common import SERVICE_KEY, CpuMeter, Outcome, Row, close_all, open_many, stack, summary_ms, token

TENANT, OTHER = "bench-a", "bench-b"
TARGET_P50_MS = 100.0
TARGET_RATE = 10_000.0


class Tally:
    """Every frame every client received, by event id."""

    def __init__(self, recipients: int) -> None:
        self.recipients = recipients
        self.per_client: list[Counter[str]] = []
        self.received: Counter[str] = Counter()
        self.last_at: dict[str, float] = {}
        self.complete: dict[str, asyncio.Event] = {}
        self.cross_tenant = 0
        self.other_frames = 0

    def done(self, event_id: str) -> asyncio.Event:
        return self.complete.setdefault(event_id, asyncio.Event())

    async def read(self, ws: ClientConnection, own: bool) -> None:
        seen: Counter[str] = Counter()
        if own:
            self.per_client.append(seen)
        try:
            async for raw in ws:
                now = time.perf_counter()
                frame = json.loads(raw)
                if not own or frame.get("tenantId") != TENANT:
                    self.cross_tenant += 1
                    continue
                event_id = frame.get("id")
                if not isinstance(event_id, str):
                    self.other_frames += 1
                    continue
                seen[event_id] += 1
                self.received[event_id] += 1
                self.last_at[event_id] = now
                if self.received[event_id] == self.recipients:
                    self.done(event_id).set()
        except ConnectionClosed:
            pass


async def run(connections: int, others: int, rounds: int, in_flight: int = 50) -> Outcome:
    out = Outcome()
    with stack() as st:
        url = st.gateway.ws_url
        own = await open_many(url, [token(TENANT, f"user-{i}") for i in range(connections)], in_flight)
        other = await open_many(url, [token(OTHER, f"other-{i}") for i in range(others)], in_flight)
        readers: list[asyncio.Task[None]] = []
        try:
            if own.errors or other.errors:
                raise RuntimeError(f"could not open the clients: {(own.errors + other.errors)[:3]}")
            tally = Tally(connections)
            readers = [asyncio.create_task(tally.read(ws, True)) for ws in own.sockets]
            readers += [asyncio.create_task(tally.read(ws, False)) for ws in other.sockets]
            headers = {"X-Internal-Service-Key": SERVICE_KEY}
            async with httpx.AsyncClient(base_url=st.gateway.base_url, headers=headers, timeout=60) as http:

                async def broadcast(n: int) -> tuple[str, float, float, int]:
                    body = {
                        "event": "call_incoming",
                        "data": {"callId": f"c{n}", "from": "+15550001111", "to": "+15550002222"},
                    }
                    started = time.perf_counter()
                    answer = await http.post(f"/broadcast/tenant/{TENANT}", json=body)
                    answered = time.perf_counter() - started
                    answer.raise_for_status()
                    result = answer.json()
                    try:
                        await asyncio.wait_for(tally.done(result["id"]).wait(), 30)
                    except asyncio.TimeoutError:
                        return result["id"], answered, float("nan"), result["delivered"]
                    return result["id"], answered, tally.last_at[result["id"]] - started, result["delivered"]

                cold = await broadcast(0)  # imports FastAPI/boto3 and builds the @connections client
                ids = [cold[0]]
                latencies: list[float] = []
                answers: list[float] = []
                with CpuMeter(st.pid) as cpu:
                    for n in range(1, rounds + 1):
                        event_id, answered, last, _ = await broadcast(n)
                        ids.append(event_id)
                        answers.append(answered)
                        if not math.isnan(last):  # NaN: some client never got it (counted as lost)
                            latencies.append(last)
            await asyncio.sleep(0.5)  # late duplicates or strays would arrive now
            expected = set(ids)
            lost = sum(1 for seen in tally.per_client for i in ids if seen[i] == 0)
            duplicated = sum(seen[i] - 1 for seen in tally.per_client for i in ids if seen[i] > 1)
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
                Row.check(s, "POST answer p50 (after fan-out)", summary_ms(answers).get("p50"), "ms", "", None),
                Row.check(s, "first (cold) broadcast → last delivery", cold[2] * 1000, "ms", "", None),
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
                "cold_broadcast_ms": cold[2] * 1000,
                "deliveries_per_s_median": rate,
                "incomplete_rounds": rounds - len(latencies),
                "lost": lost,
                "duplicated": duplicated,
                "cross_tenant": tally.cross_tenant,
                "unknown_ids": unknown,
                "frames_without_id": tally.other_frames,
                "cpu": cpu.as_dict(),
            }
            if note := cpu.warning("broadcast"):
                out.warnings.append(note)
        finally:
            await close_all(own.sockets + other.sockets)
            for task in readers:
                task.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
    return out
