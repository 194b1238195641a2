"""The functions' metrics (CloudWatch Embedded Metric Format) as the local gateway shows them: a readable line per
document in its log, and running totals on ``GET /__local/metrics``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

from local.testing import LocalGateway

CALL = {"callId": "call-1", "from": "+15550001111", "to": "+15550002222"}


def total(series: list[dict[str, Any]], name: str, **dimensions: str) -> float:
    return float(
        sum(
            s["sum"]
            for s in series
            if s["name"] == name and all(s["dimensions"].get(key) == value for key, value in dimensions.items())
        )
    )


async def test_connects_messages_and_deliveries_are_shown_and_summed(
    gateway: LocalGateway, dashboards: Callable[..., Any], internal_api: httpx.AsyncClient, tenant: str
) -> None:
    since = gateway.mark()
    before = (await internal_api.get("/__local/metrics")).json()
    dashboard = await dashboards(tenant)
    await dashboard.request("hello")

    answer = await internal_api.post(f"/broadcast/tenant/{tenant}", json={"event": "call_incoming", "data": CALL})
    assert answer.status_code == 202
    await dashboard.receive()

    for pattern in (
        r"\[ConnectFunction\] METRICS Connects=1 \(Service=as-connection-service Stage=dev\)",
        r"\[MessageFunction\] METRICS Messages=1 \(Action=hello Service=as-connection-service Stage=dev\)",
        r"\[BroadcastFunction\] METRICS Broadcasts=1 Deliveries=1 DeliveriesGone=0 DeliveryFailures=0 "
        r"BroadcastLatency=[0-9.]+ms \(Service=as-connection-service Stage=dev\)",
    ):
        await asyncio.to_thread(gateway.wait_for_log, pattern, since=since)
    after = (await internal_api.get("/__local/metrics")).json()
    assert total(after, "Connects") - total(before, "Connects") >= 1
    assert total(after, "Messages", Action="hello") - total(before, "Messages", Action="hello") >= 1
    assert total(after, "Deliveries") - total(before, "Deliveries") >= 1
    [series] = [s for s in after if s["name"] == "BroadcastLatency"]
    assert series["unit"] == "Milliseconds" and series["namespace"] == "NeverMissCall/ConnectionService"
