"""``python -m local --redis cluster`` (``make run REDIS_MODE=cluster``): the gateway starts a Redis Cluster of its
own, the functions run in cluster mode on it, ``/health/detailed`` shows its nodes, and stopping the gateway stops
every node."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import websockets

from local.testing import LocalGateway
from tests.e2e.conftest import ROOT, SECRET, SERVICE_KEY, Dashboard

CALL = {"callId": "c1", "from": "+15550001111", "to": "+15550002222"}


def answers(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


async def test_the_gateway_runs_the_service_on_an_embedded_cluster_and_stops_it(token: Callable[..., str]) -> None:
    env: dict[str, str | None] = {
        "REDIS_URL": None,
        "REDIS_MODE": None,
        "JWT_SECRET": SECRET,
        "INTERNAL_SERVICE_KEY": SERVICE_KEY,
    }
    with LocalGateway(
        ROOT / "template.yaml", env=env, cwd=ROOT, args=["--redis", "cluster", "--schedules", "off"]
    ) as gw:
        async with httpx.AsyncClient(base_url=gw.base_url, headers={"X-Internal-Service-Key": SERVICE_KEY}) as api:
            health = (await api.get("/health/detailed")).json()
            redis: dict[str, Any] = health["checks"]["redis"]
            assert health["status"] == "ok" and redis["mode"] == "cluster"
            assert sorted(node["role"] for node in redis["nodes"]) == ["primary"] * 3 + ["replica"] * 3
            assert all(node["ok"] for node in redis["nodes"])

            async with websockets.connect(f"{gw.ws_url}?token={token('cluster-tenant', 'u1')}") as socket_:
                dashboard = Dashboard(socket_)
                assert (await dashboard.request("hello"))["event"] == "authenticated"
                sent = await api.post("/broadcast/tenant/cluster-tenant", json={"event": "call_incoming", "data": CALL})
                assert sent.status_code == 202 and sent.json()["delivered"] == 1
                assert (await dashboard.receive())["id"] == sent.json()["id"]
        assert "embedded Redis Cluster" in gw.logs
    assert not any(answers(node["address"]) for node in redis["nodes"])
