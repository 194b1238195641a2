"""Scenario 3: N idle connections; the server's RSS growth per connection (VmRSS before and after)."""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio as aioredis

from .clients import Client
from .common import CpuMeter, Outcome, Row, close_all, open_many, raise_nofile, tree_rss_kb
from .targets import TargetOptions, open_target

TARGET_KB = 30.0
TENANT_SIZE = 1000  # the service's default per-tenant limit: spread the load as real tenants would


async def redis_used_kb(url: str) -> float:
    client = aioredis.Redis.from_url(url, db=1)
    try:
        info = await client.info("memory")
        return float(info["used_memory"]) / 1024
    finally:
        await client.aclose()


async def idle(client: Client) -> None:
    """Read and drop whatever arrives: keeps protocol pings answered (Socket.IO drops a silent client)."""
    async for _ in client:
        pass


async def run(options: TargetOptions, connections: int, in_flight: int = 50, settle_s: float = 2.0) -> Outcome:
    out = Outcome()
    if options.pid is None and options.kind != "local":
        out.rows.append(Row("idle memory", "skipped", None, "", "", "INFO", "needs --pid of the server process"))
        return out
    limit = raise_nofile()
    if connections + 500 > limit:  # the client and the gateway (which inherits the limit) each hold one per socket
        out.warnings.append(
            f"memory: RLIMIT_NOFILE is {limit}; {connections:,} connections need ~{connections + 500:,} "
            "descriptors in the client and in the server: expect failures"
        )
    with open_target(options) as target:
        assert target.pid is not None
        redis_url = target.redis_url
        warm = await open_many(target.new_client, [target.token("bench-warm", f"w{i}") for i in range(200)], in_flight)
        await close_all(warm.clients)
        await asyncio.sleep(settle_s)
        before_own, before_children = tree_rss_kb(target.pid)
        before = before_own + before_children
        redis_before = await redis_used_kb(redis_url) if redis_url else 0.0
        tokens = [target.token(f"bench-idle-{i // TENANT_SIZE}", f"user-{i}") for i in range(connections)]
        with CpuMeter(target.pid) as cpu:
            opened = await open_many(target.new_client, tokens, in_flight)
        readers = [asyncio.create_task(idle(c)) for c in opened.clients]
        try:
            await asyncio.sleep(settle_s)
            after_own, after_children = tree_rss_kb(target.pid)
            after = after_own + after_children
            redis_after = await redis_used_kb(redis_url) if redis_url else 0.0
            held = len(opened.clients)
            per_conn = (after - before) / held if held else None
            s = "idle memory"
            tried = connections >= 10_000
            out.rows += [
                Row.check(s, f"idle connections held (asked {connections:,})", float(held), "conn",
                          ">= 10,000 on one gateway", held >= 10_000 if tried else None,
                          "" if tried else "run with --idle-connections 10000 to check the 10,000 target"),
                Row.check(s, "server RSS growth per idle connection", per_conn, "KB", f"<= {TARGET_KB:.0f} KB",
                          per_conn is not None and per_conn <= TARGET_KB,
                          "the server process and its children (the local gateway's execution environments)"),
                Row.check(s, "server RSS with them open", after / 1024, "MB", "", None,
                          f"process {after_own / 1024:.0f} MB + children {after_children / 1024:.0f} MB"),
            ]  # fmt: skip
            if redis_url:
                per_conn_redis = (redis_after - redis_before) / max(held, 1)
                out.rows.insert(-1, Row.check(s, "Redis memory per connection", per_conn_redis, "KB", "", None))
            out.details = {
                "asked": connections,
                "held": held,
                "errors": opened.errors[:20],
                "error_count": len(opened.errors),
                "rss_before_kb": before,
                "rss_children_before_kb": before_children,
                "rss_children_after_kb": after_children,
                "rss_after_kb": after,
                "per_connection_kb": per_conn,
                "redis_used_kb_before": redis_before,
                "redis_used_kb_after": redis_after,
                "rlimit_nofile": limit,
                "open_rate_per_s": held / opened.elapsed,
                "cpu": cpu.as_dict(),
            }
        finally:
            await close_all(opened.clients)
            for task in readers:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*readers, return_exceptions=True)
    return out
