"""Scenario 1: N connections, ``in_flight`` at a time, token → ``authenticated`` (the client sends hello).

``floor``: the same, against the service's WebSocket API with functions that do nothing (``bench/floor``): what
the local gateway, the execution environments and the Runtime API cost on their own, with no target to meet.
"""

from __future__ import annotations

import dataclasses

from .common import FLOOR_TEMPLATE, CpuMeter, Outcome, Row, close_all, open_many, summary_ms
from .targets import TargetOptions, open_target

TARGET_RATE = 1250.0
TARGET_P99_MS = 50.0


async def floor(options: TargetOptions, connections: int, in_flight: int) -> Outcome:
    return await run(dataclasses.replace(options, template=FLOOR_TEMPLATE), connections, in_flight, scenario="floor")


async def run(options: TargetOptions, connections: int, in_flight: int, *, scenario: str = "connect") -> Outcome:
    out = Outcome()
    judged = scenario == "connect"
    with open_target(options) as target:
        # Warm-up: the first $connect / $default invocations import the handlers and open their Redis pools.
        tokens = [target.token("bench-warm", f"w{i}") for i in range(in_flight)]
        warm = await open_many(target.new_client, tokens, in_flight)
        await close_all(warm.clients)
        await target.settle()  # the warm-up's $disconnect invocations, and environments it started, out of the way
        tokens = [target.token("bench-connect", f"user-{i}") for i in range(connections)]
        with CpuMeter(target.pid) as cpu:
            opened = await open_many(target.new_client, tokens, in_flight)
        try:
            ok = len(opened.latencies)
            rate = ok / opened.elapsed
            lat = summary_ms(opened.latencies)
            s = scenario
            out.rows += [
                Row.check(s, f"connections/s ({in_flight} in flight)", rate, "conn/s",
                          f">= {TARGET_RATE:,.0f}" if judged else "", rate >= TARGET_RATE if judged else None),
                Row.check(s, "latency p50", lat.get("p50"), "ms", "", None),
                Row.check(s, "latency p95", lat.get("p95"), "ms", "", None),
                Row.check(s, "latency p99", lat.get("p99"), "ms", f"< {TARGET_P99_MS:.0f} ms" if judged else "",
                          (bool(lat) and lat["p99"] < TARGET_P99_MS) if judged else None),
                Row.check(s, "failed connects", float(len(opened.errors)), "", "0", not opened.errors),
                *_cpu_rows(s, cpu, ok),
            ]  # fmt: skip
            out.details = {
                "connections": connections,
                "in_flight": in_flight,
                "succeeded": ok,
                "elapsed_s": opened.elapsed,
                "latency_ms": lat,
                "errors": opened.errors[:20],
                "cpu": cpu.as_dict(),
            }
            if note := cpu.warning(scenario):
                out.warnings.append(note)
        finally:
            await close_all(opened.clients)
    return out


def _cpu_rows(scenario: str, cpu: CpuMeter, connections: int) -> list[Row]:
    """CPU per connection of the server (its process tree: for this stack the gateway and its environments, not
    Redis) and of the client. A machine's speed can move between runs; the ratio of the two moves much less."""
    if not connections:
        return []
    rows = [Row.check(scenario, "client CPU per connection", cpu.client * 1000 / connections, "ms", "", None)]
    if cpu.server is not None:
        rows.append(Row.check(scenario, "server CPU per connection (its process tree, not Redis)",
                              cpu.server * 1000 / connections, "ms", "", None))  # fmt: skip
    return rows
