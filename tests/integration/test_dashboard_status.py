"""The EventBridge schedule: ``dashboard_status`` to every tenant with live connections, with its own counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from connection_service import broadcast
from tests.integration.test_broadcast import close_connection, open_connection
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event, reset_cold_start

pytestmark = pytest.mark.usefixtures("lambda_env")

A1, A2, A3, B1, C1 = "AAAAAAAAAAAAAAA=", "BBBBBBBBBBBBBBB=", "DDDDDDDDDDDDDDD=", "CCCCCCCCCCCCCCC=", "EEEEEEEEEEEEEEE="


def scheduled() -> dict[str, Any]:
    return broadcast.handler(load_event("scheduled_event"), LambdaContext())


def status_frames(api: ConnectionsApi, connection_id: str) -> list[dict[str, Any]]:
    return [f for f in api.frames(connection_id) if f["event"] == "dashboard_status"]


def test_each_tenant_gets_its_own_counts_and_nothing_crosses_tenants(
    token: Callable[..., str], connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u1"), A2)  # same user, second tab
    open_connection(token("tenant-a", "u2"), A3)
    open_connection(token("tenant-b", "u9"), B1)
    open_connection(token("tenant-c", "u5"), C1)
    close_connection(C1)

    answer = scheduled()

    assert answer == {
        "ok": True,
        "status": 200,
        "event": "dashboard_status",
        "tenants": 2,
        "delivered": 4,
        "failed": 0,
        "pruned": 0,
    }
    for cid in (A1, A2, A3):
        [frame] = connections_api.frames(cid)
        assert frame["event"] == "dashboard_status" and frame["tenantId"] == "tenant-a"
        assert frame["data"] == {"activeConnections": 3, "activeUsers": 2}
        occurred_at = frame["occurredAt"]
        assert isinstance(occurred_at, str) and occurred_at.endswith("Z")
    [frame] = connections_api.frames(B1)
    assert frame["tenantId"] == "tenant-b" and frame["data"] == {"activeConnections": 1, "activeUsers": 1}
    assert connections_api.frames(C1) == []


def test_dashboard_status_is_not_logged_and_carries_no_event_id(
    token: Callable[..., str], connections_api: ConnectionsApi, event_store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), A1)

    scheduled()

    [frame] = connections_api.frames(A1)
    assert "id" not in frame
    assert event_store.xlen("log:{t:tenant-a}:events") == 0


def test_expired_connections_are_neither_counted_nor_sent_to(
    token: Callable[..., str], connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    open_connection(token("tenant-b", "u3"), B1)
    store.zadd("{t:tenant-a}:conns", {A2: time.time() - 1})  # as if its TTL had passed
    store.zadd("{t:tenant-b}:conns", {B1: time.time() - 1})

    answer = scheduled()

    assert answer["tenants"] == 1 and answer["delivered"] == 1
    assert status_frames(connections_api, A1)[0]["data"] == {"activeConnections": 1, "activeUsers": 1}
    assert connections_api.frames(A2) == [] and connections_api.frames(B1) == []
    assert store.smembers("tenants") == {"tenant-a"}


def test_gone_connections_are_pruned(
    token: Callable[..., str], connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    open_connection(token("tenant-a", "u1"), A1)
    open_connection(token("tenant-a", "u2"), A2)
    connections_api.gone.add(A2)

    answer = scheduled()

    assert answer["delivered"] == 1 and answer["pruned"] == 1
    assert store.zrange("{t:tenant-a}:conns", 0, -1) == [A1]
    assert store.zrange("{t:tenant-a}:user:u2:conns", 0, -1) == []
    assert [key for key in store.scan_iter() if A2 in key] == []


def test_no_live_connections_sends_nothing(connections_api: ConnectionsApi) -> None:
    answer = scheduled()

    assert answer["ok"] is True and answer["tenants"] == 0 and answer["delivered"] == 0
    assert connections_api.posted == {}


def test_redis_down_is_answered_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    reset_cold_start()

    answer = scheduled()

    assert answer["ok"] is False and answer["status"] == 503 and answer["error"]["code"] == "unavailable"


def test_the_template_schedules_the_broadcast_function_every_minute() -> None:
    from samtranslator.yaml_helper import yaml_parse

    template = yaml_parse((Path(__file__).resolve().parents[2] / "template.yaml").read_text())
    events = template["Resources"]["BroadcastFunction"]["Properties"]["Events"]
    [schedule] = [e["Properties"] for e in events.values() if e["Type"] == "Schedule"]

    assert schedule["Schedule"] == "rate(1 minute)"
    assert schedule.get("Enabled", True) is True
    assert "dashboard_status" in schedule["Description"]
