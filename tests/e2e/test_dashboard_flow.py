"""The walking skeleton end to end: a dashboard connects through the local gateway, an internal service
broadcasts over HTTP, the event arrives — and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from local.testing import LocalGateway
from tests.support.redis_backends import RedisBackend

CALL = {"callId": "call-1", "from": "+15550001111", "to": "+15550002222"}


async def test_hello_is_answered_with_authenticated(dashboards: Callable[..., Any], tenant: str) -> None:
    dashboard = await dashboards(tenant, "user-7", hello=False)

    reply = await dashboard.request("hello")

    assert reply["event"] == "authenticated"
    assert reply["data"]["tenantId"] == tenant and reply["data"]["userId"] == "user-7"
    assert len(reply["data"]["connectionId"]) == 16 and reply["data"]["connectionId"].endswith("=")
    assert (await dashboard.request("ping"))["event"] == "pong"


async def test_a_broadcast_reaches_the_tenant_and_no_other(
    dashboards: Callable[..., Any], internal_api: httpx.AsyncClient, tenant: str
) -> None:
    mine = await dashboards(tenant)
    other_tenant = f"{tenant}-other"
    theirs = await dashboards(other_tenant)

    answer = await internal_api.post(f"/broadcast/tenant/{tenant}", json={"event": "call_incoming", "data": CALL})
    sentinel = await internal_api.post(f"/broadcast/tenant/{other_tenant}", json={"event": "call_missed", "data": CALL})

    assert answer.status_code == 202 and answer.json()["delivered"] == 1
    frame = await mine.receive()
    assert frame == {
        "id": answer.json()["id"],
        "event": "call_incoming",
        "tenantId": tenant,
        "occurredAt": frame["occurredAt"],
        "data": CALL,
    }
    # Deliveries of one connection arrive in order: had tenant A's event reached B, it would come first.
    first_for_other = await theirs.receive()
    assert first_for_other["id"] == sentinel.json()["id"] and first_for_other["tenantId"] == other_tenant


async def test_a_conversation_broadcast_reaches_only_its_subscribers(
    dashboards: Callable[..., Any], internal_api: httpx.AsyncClient, tenant: str
) -> None:
    subscriber = await dashboards(tenant, "user-1")
    bystander = await dashboards(tenant, "user-2")
    assert (await subscriber.request("subscribe_conversation", {"conversationId": "conv-9"}))["event"] == "ack"

    scoped = await internal_api.post(
        "/broadcast/conversation/conv-9",
        json={
            "event": "message_received",
            "tenantId": tenant,
            "data": {"messageId": "m1", "conversationId": "conv-9", "from": "+15550001111", "body": "Hi ☎️"},
        },
    )
    sentinel = await internal_api.post(f"/broadcast/tenant/{tenant}", json={"event": "call_missed", "data": CALL})

    assert scoped.json()["delivered"] == 1
    frame = await subscriber.receive()
    assert frame["conversationId"] == "conv-9" and frame["data"]["body"] == "Hi ☎️"
    assert (await bystander.receive())["id"] == sentinel.json()["id"]


@pytest.mark.parametrize("token_kind", ["missing", "garbage", "expired", "other-secret"])
async def test_bad_tokens_are_refused_with_401(
    gateway: LocalGateway, token: Callable[..., str], tenant: str, token_kind: str
) -> None:
    import jwt

    query = {
        "missing": "",
        "garbage": "?token=abc.def.ghi",
        "expired": f"?token={token(tenant, ttl=-30)}",
        "other-secret": "?token=" + jwt.encode({"sub": "u", "tenant_id": tenant, "exp": 4102444800}, "x" * 40),
    }[token_kind]

    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(gateway.ws_url + query)

    assert refused.value.response.status_code == 401


async def test_a_foreign_origin_is_refused_with_403(
    gateway: LocalGateway, token: Callable[..., str], tenant: str
) -> None:
    with pytest.raises(InvalidStatus) as refused:
        await websockets.connect(f"{gateway.ws_url}?token={token(tenant)}", origin="https://evil.example")  # type: ignore[arg-type]

    assert refused.value.response.status_code == 403


async def test_malformed_frames_get_errors_and_the_socket_stays_open(
    dashboards: Callable[..., Any], tenant: str
) -> None:
    dashboard = await dashboards(tenant)

    for raw, code in [
        ("{oops", "bad_request"),
        ('{"action":"nope","requestId":"r1"}', "unknown_action"),
        ('{"action":"subscribe_conversation","requestId":"r2","data":{}}', "bad_request"),
    ]:
        await dashboard.socket.send(raw)
        reply = await dashboard.receive()
        assert reply["event"] == "error" and reply["data"]["code"] == code

    assert (await dashboard.request("ping"))["event"] == "pong"


async def test_a_reconnecting_dashboard_gets_what_it_missed_in_order(
    dashboards: Callable[..., Any], internal_api: httpx.AsyncClient, tenant: str
) -> None:
    first = await dashboards(tenant)
    seen = await internal_api.post(f"/broadcast/tenant/{tenant}", json={"event": "call_missed", "data": CALL})
    assert (await first.receive())["id"] == seen.json()["id"]
    await first.socket.close()
    missed = [
        (
            await internal_api.post(
                f"/broadcast/tenant/{tenant}", json={"event": "call_incoming", "data": {**CALL, "callId": f"c{i}"}}
            )
        ).json()["id"]
        for i in range(3)
    ]

    again = await dashboards(tenant, hello=False)
    reply = await again.request("hello", {"lastEventId": seen.json()["id"]})
    replayed = [await again.receive() for _ in missed]
    marker = await again.receive()

    assert reply["event"] == "authenticated"
    assert [f["id"] for f in replayed] == missed
    assert [f["data"]["callId"] for f in replayed] == ["c0", "c1", "c2"]
    assert marker == {"event": "replay_complete", "data": {"count": 3}}


async def test_a_lost_position_is_told_resync_required(dashboards: Callable[..., Any], tenant: str) -> None:
    dashboard = await dashboards(tenant, hello=False)

    await dashboard.request("hello", {"lastEventId": "1-0"})

    assert (await dashboard.receive())["event"] == "resync_required"


async def test_tokens_never_reach_the_logs_or_redis(
    gateway: LocalGateway,
    dashboards: Callable[..., Any],
    token: Callable[..., str],
    tenant: str,
    redis_backend: RedisBackend,
) -> None:
    secret_token = token(tenant, "user-secret")
    async with websockets.connect(f"{gateway.ws_url}?token={secret_token}") as socket:
        await socket.send('{"action":"hello","requestId":"h"}')
        await socket.recv()
    with pytest.raises(InvalidStatus):
        await websockets.connect(f"{gateway.ws_url}?token={secret_token[:-4]}AAAA")

    signature = secret_token.rsplit(".", 1)[1]
    assert signature not in gateway.logs
    store = redis_backend.connection_store(decode_responses=False)
    tenant_keys = list(store.scan_iter(match=f"*{tenant}*"))
    assert tenant_keys  # the connect rate counters outlive the connection
    for key in tenant_keys:
        assert signature.encode() not in (store.dump(key) or b"")
