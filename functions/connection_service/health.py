"""``GET /health/detailed``: Redis (every node), the connection and event stores, the management API and the
auth service, checked concurrently. Never raises: a failing check is a line of the report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import redis
from redis.cluster import RedisCluster

from .errors import StoreUnavailable
from .protocol import iso_time
from .stores import RedisClient, redacted

if TYPE_CHECKING:
    from .wiring import Runtime

log = logging.getLogger(__name__)

HTTP_CHECK_TIMEOUT_S = 2.0


def _reason(exc: BaseException) -> str:
    if isinstance(exc, StoreUnavailable) and exc.__cause__ is not None:  # the report is internal: say why
        exc = exc.__cause__
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}"[:300] if text else type(exc).__name__


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _pool_figures(pools: list[Any]) -> dict[str, Any]:
    """Summed over the pools (one per node of a cluster). The runtime's pools are BlockingConnectionPools: their
    connections made so far, and a queue holding the idle ones (and empty slots for those not made yet)."""
    created = available = 0
    for pool in pools:
        made = getattr(pool, "_connections", None)
        if made is not None:
            created += len(made)
            idle: list[Any] = list(pool.pool.queue)
            available += len([connection for connection in idle if connection is not None])
        else:
            created += getattr(pool, "_created_connections", 0) or 0
            available += len(getattr(pool, "_available_connections", ()) or ())
    return {
        "maxConnections": getattr(pools[0], "max_connections", None) if pools else None,
        "created": created,
        "available": available,
        "inUse": created - available,
    }


def _pools(client: RedisClient) -> list[Any]:
    if isinstance(client, redis.Redis):
        return [client.connection_pool]
    try:
        nodes = _cluster_nodes(client)
    except Exception:  # a cluster not reached yet has no pools
        return []
    return [node.redis_connection.connection_pool for node in nodes if node.redis_connection]


def _cluster_nodes(client: RedisCluster) -> list[Any]:
    return list(client.get_nodes())  # type: ignore[no-untyped-call]


def redis_check(client: RedisClient, db: int) -> dict[str, Any]:
    """Ping latency and pool figures (summed over the nodes of a cluster); never raises."""
    started = time.perf_counter()
    try:
        client.ping()
    except Exception as exc:
        return {"ok": False, "db": db, "error": _reason(exc), "pool": _pool_figures(_pools(client))}
    return {"ok": True, "db": db, "latencyMs": _elapsed_ms(started), "pool": _pool_figures(_pools(client))}


def node_checks(client: RedisClient, seed: str) -> list[dict[str, Any]]:
    """Every node the client knows (a cluster's primaries and replicas, or the one server) and whether it answers a
    ping; a cluster that cannot be reached at all is its seed (the URL's node), unreachable. Never raises."""
    if isinstance(client, redis.Redis):
        return [{"address": seed, "role": "primary", **_ping(client.ping)}]
    try:
        nodes = sorted(_cluster_nodes(client), key=lambda node: (node.server_type != "primary", node.name))
    except Exception as exc:
        return [{"address": seed, "role": "seed", "ok": False, "error": _reason(exc)}]
    with ThreadPoolExecutor(max_workers=max(1, len(nodes)), thread_name_prefix="health-node") as pool:
        pings = list(pool.map(lambda node: _ping(lambda: client.ping(target_nodes=node)), nodes))
    return [
        {"address": node.name, "role": node.server_type or "unknown", **ping}
        for node, ping in zip(nodes, pings, strict=True)
    ]


def _ping(ping: Callable[[], object]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        ping()
    except Exception as exc:
        return {"ok": False, "error": _reason(exc)}
    return {"ok": True, "latencyMs": _elapsed_ms(started)}


def redis_report(rt: Runtime) -> dict[str, Any]:
    """The mode, both stores' clients and every node. Ok when both stores answer and no primary is unreachable (a
    replica down leaves the service whole and is only shown). Never raises."""
    stores = rt.stores
    connections = redis_check(stores.connections, stores.connections_db)
    events = redis_check(stores.events, stores.events_db) if stores.events is not stores.connections else connections
    nodes = node_checks(stores.connections, redacted(rt.settings.redis_url).split("://", 1)[-1])
    primaries_ok = all(node["ok"] for node in nodes if node["role"] == "primary")
    return {
        "ok": connections["ok"] and events["ok"] and primaries_ok,
        "mode": stores.mode,
        "connections": connections,
        "events": events,
        "nodes": nodes,
    }


def http_check(url: str, timeout_s: float = HTTP_CHECK_TIMEOUT_S) -> dict[str, Any]:
    """Reachability of an HTTP service: any HTTP answer (even 403/404) means reachable. Never raises."""
    if not url:
        return {"ok": False, "url": "", "error": "not configured"}
    import httpx

    started = time.perf_counter()
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
            answer = client.get(url)
    except Exception as exc:
        return {"ok": False, "url": url, "error": _reason(exc)}
    return {"ok": True, "url": url, "httpStatus": answer.status_code, "latencyMs": _elapsed_ms(started)}


def _guarded(name: str, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return check()
    except Exception as exc:  # a check must never take the report down
        log.warning("health check %s failed unexpectedly", name, exc_info=exc)
        return {"ok": False, "error": _reason(exc)}


def detailed_health(rt: Runtime) -> tuple[int, dict[str, Any]]:
    """``GET /health/detailed``: (HTTP status, report). 200 when every check is ok, else 503. Never raises.

    Checks run concurrently, so the report takes as long as the slowest one (bounded by the Redis socket
    timeout and :data:`HTTP_CHECK_TIMEOUT_S`).
    """
    settings = rt.settings

    def stores() -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = {"redis": redis_report(rt)}
        connections, events = result["redis"]["connections"], result["redis"]["events"]
        event_log: dict[str, Any] = {
            "maxLen": settings.event_log_max_len,
            "retentionS": settings.event_log_retention_s,
        }
        if not connections["ok"]:
            result["connections"] = {"ok": False, "error": "connection store unavailable"}
            result["eventLog"] = {"ok": False, "error": "connection store unavailable", **event_log}
            return result
        live = rt.registry.census(rt.clock())
        result["connections"] = {
            "ok": True,
            "total": sum(len(ids) for ids in live.values()),
            "tenants": len(live),
        }
        if not events["ok"]:
            result["eventLog"] = {"ok": False, "error": "event store unavailable", **event_log}
            return result
        lengths = rt.event_log.lengths(sorted(live))
        result["eventLog"] = {"ok": True, "entries": sum(lengths.values()), "tenants": len(lengths), **event_log}
        return result

    def stores_guarded() -> dict[str, Any]:
        try:
            return stores()
        except Exception as exc:
            log.warning("health: store checks failed", exc_info=exc)
            failed = {"ok": False, "error": _reason(exc)}
            return {"redis": failed, "connections": failed, "eventLog": failed}

    def auth_service() -> dict[str, Any]:
        if settings.auth_mode != "remote":
            return {"ok": True, "mode": settings.auth_mode, "checked": False}
        return {"mode": "remote", "checked": True, **http_check(settings.ts_auth_service_url)}

    with ThreadPoolExecutor(max_workers=3, thread_name_prefix="health") as pool:
        store_future = pool.submit(stores_guarded)
        management_future = pool.submit(_guarded, "managementApi", lambda: http_check(settings.websocket_api_endpoint))
        auth_future = pool.submit(_guarded, "authService", auth_service)
        checks: dict[str, Any] = dict(store_future.result())
        checks["managementApi"] = management_future.result()
        checks["authService"] = auth_future.result()

    problems = [name for name, check in checks.items() if not check.get("ok")]
    report = {
        "status": "degraded" if problems else "ok",
        "service": settings.service_name,
        "stage": settings.stage,
        "checkedAt": iso_time(time.time()),
        "problems": problems,
        "checks": checks,
    }
    return (503 if problems else 200), report
