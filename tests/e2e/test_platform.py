"""The rest of the service through its real entry points: boto3 against @connections, a user action through
to the stand-in as-call-service, the template's schedule, a direct Lambda Invoke, and the internal API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from local.testing import LocalGateway
from tests.support.aws_clients import AWS_TEST_CLIENT
from tests.support.call_service import CallServiceStub

CALL = {"callId": "call-1", "from": "+15550001111", "to": "+15550002222"}


@pytest.fixture
def management(gateway: LocalGateway) -> Iterator[Any]:
    client = boto3.client("apigatewaymanagementapi", endpoint_url=gateway.management_endpoint, **AWS_TEST_CLIENT)
    yield client
    client.close()


async def test_boto3_posts_to_a_live_connection_and_gets_gone_for_a_closed_one(
    dashboards: Callable[..., Any], management: Any, tenant: str
) -> None:
    dashboard = await dashboards(tenant)
    connection_id = (await dashboard.request("hello"))["data"]["connectionId"]

    await asyncio.to_thread(management.post_to_connection, ConnectionId=connection_id, Data=b'{"event":"hi"}')
    assert await dashboard.receive() == {"event": "hi"}
    info = await asyncio.to_thread(management.get_connection, ConnectionId=connection_id)
    assert info["Identity"]["SourceIp"] == "127.0.0.1" and info["ConnectedAt"] <= info["LastActiveAt"]

    await dashboard.socket.close()
    await dashboard.socket.wait_closed()
    with pytest.raises(management.exceptions.GoneException):
        for _ in range(50):  # the gateway forgets the socket as soon as its close completes
            await asyncio.to_thread(management.post_to_connection, ConnectionId=connection_id, Data=b"{}")


async def test_a_takeover_is_forwarded_acknowledged_and_announced_to_the_tenant(
    dashboards: Callable[..., Any], call_service: CallServiceStub, tenant: str
) -> None:
    agent = await dashboards(tenant, "agent-1")
    colleague = await dashboards(tenant, "agent-2")
    path = "/conversations/conv-42/takeover"
    call_service.answer(path, 200, {"conversationId": "conv-42", "mode": "human"})

    await agent.send("takeover_conversation", {"conversationId": "conv-42"}, request_id="take-1")
    frames = [await agent.receive(), await agent.receive()]
    announced = await colleague.receive()

    ack = next(f for f in frames if f["event"] == "ack")
    assert ack["requestId"] == "take-1" and ack["data"]["result"] == {"conversationId": "conv-42", "mode": "human"}
    assert announced["event"] == "conversation_taken_over"
    assert announced["data"] == {"conversationId": "conv-42", "userId": "agent-1"}
    [forwarded] = [r for r in call_service.recorded() if r.path == path and r.headers.get("x-tenant-id") == tenant]
    assert forwarded.headers["idempotency-key"] == "take-1" and forwarded.headers["x-user-id"] == "agent-1"


async def test_the_template_schedule_sends_dashboard_status(
    dashboards: Callable[..., Any], gateway: LocalGateway, tenant: str
) -> None:
    dashboard = await dashboards(tenant, "user-1")
    await dashboards(tenant, "user-2")
    schedules = (await asyncio.to_thread(httpx.get, f"{gateway.base_url}/__local/schedules")).json()
    [schedule] = [s["name"] for s in schedules if s["function"] == "BroadcastFunction"]

    fired = await asyncio.to_thread(httpx.post, f"{gateway.base_url}/__local/schedules/{schedule}", timeout=30)

    assert fired.status_code == 200
    frame = await dashboard.receive()
    assert frame["event"] == "dashboard_status" and frame["tenantId"] == tenant
    assert frame["data"] == {"activeConnections": 2, "activeUsers": 2}


async def test_a_direct_lambda_invoke_broadcasts(
    dashboards: Callable[..., Any], gateway: LocalGateway, tenant: str
) -> None:
    dashboard = await dashboards(tenant)
    lambda_client = boto3.client(
        "lambda", endpoint_url=gateway.base_url, config=Config(retries={"max_attempts": 1}), **AWS_TEST_CLIENT
    )
    body = {"event": "call_incoming", "tenantId": tenant, "data": CALL, "eventId": f"{tenant}-1"}

    answer = await asyncio.to_thread(lambda_client.invoke, FunctionName="BroadcastFunction", Payload=json.dumps(body))
    result = json.loads(answer["Payload"].read())

    assert result["ok"] is True and result["delivered"] == 1
    assert (await dashboard.receive())["id"] == result["id"]


async def test_the_internal_api_lists_the_tenants_connections(
    dashboards: Callable[..., Any], internal_api: httpx.AsyncClient, tenant: str
) -> None:
    dashboard = await dashboards(tenant, "user-5")
    await dashboard.request("subscribe_conversation", {"conversationId": "c-1"})

    listing = (await internal_api.get(f"/connections/tenant/{tenant}")).json()
    status = (await internal_api.get("/connections/status")).json()
    unauthorized = await internal_api.get("/connections/status", headers={"X-Internal-Service-Key": "nope"})

    assert [(c["userId"], c["subscriptions"]) for c in listing["connections"]] == [("user-5", ["c-1"])]
    assert {"tenantId": tenant, "connections": 1}.items() <= next(
        t for t in status["perTenant"] if t["tenantId"] == tenant
    ).items()
    assert unauthorized.status_code == 401
    assert (await internal_api.get("/openapi.json")).json()["paths"]["/broadcast/"]
