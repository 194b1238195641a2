"""Connection limits, connect rate limits and the per-connection message rate limit, against real Redis."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from connection_service import connect, message, wiring
from connection_service.client_actions import MessageService, MessageSettings
from connection_service.responses import reply_with
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event, reset_cold_start


def connect_as(token: str, connection_id: str, source_ip: str = "203.0.113.10") -> int:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token)
    event["requestContext"]["connectionId"] = connection_id
    event["requestContext"]["identity"]["sourceIp"] = source_ip
    return int(connect.handler(event, LambdaContext())["statusCode"])


def connect_concurrently(tokens: list[str], workers: int) -> list[int]:
    """Connect once per token, ``workers`` at a time, each from its own connection id and IP; the statuses."""

    def one(i: int) -> int:
        return connect_as(tokens[i], f"conn-{i:011d}=", f"10.0.{i // 256}.{i % 256}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(one, range(len(tokens))))


def configure(monkeypatch: pytest.MonkeyPatch, **settings: object) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(name, str(value))
    reset_cold_start()


@pytest.mark.usefixtures("lambda_env")
def test_the_tenant_limit_holds_under_concurrent_connects(
    monkeypatch: pytest.MonkeyPatch, token: Callable[..., str], store: redis.Redis
) -> None:
    configure(monkeypatch, MAX_CONNECTIONS_PER_TENANT=5, MAX_CONNECTIONS_PER_USER=100, CONNECT_RATE_LIMIT_PER_MINUTE=0)
    tokens = [token("tenant-a", f"user-{i}") for i in range(24)]

    statuses = connect_concurrently(tokens, workers=12)

    assert statuses.count(200) == 5
    assert statuses.count(429) == 19
    assert store.zcard("{t:tenant-a}:conns") == 5
    # only the admitted connections have state of their own
    admitted = {f"conn:conn-{i:011d}=" for i, status in enumerate(statuses) if status == 200}
    assert {f"conn:conn-{i:011d}=" for i in range(24) if store.exists(f"conn:conn-{i:011d}=")} == admitted
    assert connect_as(token("tenant-b", "user-0"), "other-tenant-01=") == 200


@pytest.mark.usefixtures("lambda_env")
def test_the_user_limit_holds_under_concurrent_connects(
    monkeypatch: pytest.MonkeyPatch, token: Callable[..., str], store: redis.Redis
) -> None:
    configure(monkeypatch, MAX_CONNECTIONS_PER_USER=3, CONNECT_RATE_LIMIT_PER_MINUTE=0)
    same_user = token("tenant-a", "user-1")

    statuses = connect_concurrently([same_user] * 10, workers=10)

    assert statuses.count(200) == 3
    assert store.zcard("{t:tenant-a}:user:user-1:conns") == 3
    assert connect_as(token("tenant-a", "user-2"), "another-user-01=") == 200


@pytest.mark.usefixtures("lambda_env")
def test_a_connect_flood_from_one_ip_is_refused_with_429(
    monkeypatch: pytest.MonkeyPatch, token: Callable[..., str]
) -> None:
    configure(monkeypatch, CONNECT_RATE_LIMIT_PER_MINUTE=3)

    statuses = [connect_as(token("tenant-a", f"user-{i}"), f"conn-{i:011d}=", "198.51.100.7") for i in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    assert connect_as(token("tenant-a", "user-9"), "from-elsewhere1=", "198.51.100.8") == 200


@pytest.mark.usefixtures("lambda_env")
def test_a_connect_flood_from_one_user_is_refused_with_429(
    monkeypatch: pytest.MonkeyPatch, token: Callable[..., str]
) -> None:
    configure(monkeypatch, CONNECT_RATE_LIMIT_PER_MINUTE=2)
    user = token("tenant-a", "user-1")

    statuses = [connect_as(user, f"conn-{i:011d}=", f"10.1.0.{i}") for i in range(4)]

    assert statuses == [200, 200, 429, 429]


def send(api: ConnectionsApi, connection_id: str, body: str) -> None:
    event = load_event("websocket_message")
    event["requestContext"]["connectionId"] = connection_id
    event["body"] = body
    assert api.route_response(connection_id, message.handler(event, LambdaContext()))["statusCode"] == 200


@pytest.mark.usefixtures("lambda_env")
def test_messages_beyond_the_bucket_are_rate_limited_and_a_flooder_is_closed(
    monkeypatch: pytest.MonkeyPatch, token: Callable[..., str], connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    configure(monkeypatch, MESSAGE_RATE_LIMIT_PER_SECOND=0.001, MESSAGE_RATE_LIMIT_BURST=2)
    assert connect_as(token(), "flooder-0000001=") == 200

    for i in range(3):
        send(connections_api, "flooder-0000001=", json.dumps({"action": "ping", "requestId": f"p{i}"}))
    replies = connections_api.frames("flooder-0000001=")
    assert [r["event"] for r in replies] == ["pong", "pong", "error"]
    assert replies[2]["data"]["code"] == "rate_limited" and replies[2]["requestId"] == "p2"  # type: ignore[index]
    assert connections_api.deleted == []

    for _ in range(60):
        send(connections_api, "flooder-0000001=", '{"action":"ping"}')

    assert connections_api.deleted == ["flooder-0000001="]
    assert not store.exists("conn:flooder-0000001=")


@pytest.mark.usefixtures("lambda_env")
def test_a_burst_of_concurrent_connects_in_one_process_waits_for_redis_connections_instead_of_failing(
    monkeypatch: pytest.MonkeyPatch, token: Callable[..., str], store: redis.Redis
) -> None:
    configure(monkeypatch, MAX_CONNECTIONS_PER_USER=0, MAX_CONNECTIONS_PER_TENANT=0, CONNECT_RATE_LIMIT_PER_MINUTE=0)
    tokens = [token("tenant-a", f"user-{i}") for i in range(150)]

    statuses = connect_concurrently(tokens, workers=150)

    assert statuses == [200] * 150
    assert store.zcard("{t:tenant-a}:conns") == 150


class SteppingClock:
    """The message service's clock, moved by the test: frames arrive exactly as often as the test says."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def message_service(clock: SteppingClock, rate_per_s: float, burst: int) -> MessageService:
    rt = wiring.current()
    settings = MessageSettings(rate_per_s=rate_per_s, burst=burst, heartbeat_interval_ms=30_000)
    return MessageService(rt.registry, rt.event_log, rt.gateway, settings, clock, rt.metrics)


def ping_at(
    service: MessageService,
    clock: SteppingClock,
    api: ConnectionsApi,
    connection_id: str,
    times: list[float],
    body: str | None = None,
) -> None:
    """Ping (or send ``body``) at each of ``times`` (seconds from now) until the connection is closed."""
    start = clock.now
    for i, at in enumerate(times):
        clock.now = start + at
        reply = service.handle(
            connection_id, json.dumps({"action": "ping", "requestId": str(i)}) if body is None else body
        )
        api.route_response(connection_id, {} if reply is None else reply_with(reply))
        if connection_id in api.deleted:
            return


@pytest.mark.usefixtures("lambda_env")
@pytest.mark.parametrize(
    ("rate_per_s", "burst", "interval_s"),
    [
        (8, 1, 1 / 16),  # twice the limit: allowed and refused frames alternate
        (10, 20, 1 / 200),  # 20 times the limit with the default burst: one frame in 20 is allowed
    ],
)
def test_a_sustained_flood_is_closed_though_allowed_frames_come_between_the_refused(
    rate_per_s: float,
    burst: int,
    interval_s: float,
    token: Callable[..., str],
    connections_api: ConnectionsApi,
    store: redis.Redis,
) -> None:
    cid = "flooder-0000002="
    assert connect_as(token("tenant-a", "user-1"), cid) == 200
    clock = SteppingClock()
    service = message_service(clock, rate_per_s, burst)

    ping_at(service, clock, connections_api, cid, [i * interval_s for i in range(int(30 / interval_s))])

    assert connections_api.deleted == [cid]
    events = [reply["event"] for reply in connections_api.frames(cid)]
    assert ("error", "pong") in set(itertools.pairwise(events))  # the mix that used to reset the strike count
    assert not store.exists(f"conn:{cid}")
    assert store.zrange("{t:tenant-a}:conns", 0, -1) == []
    assert store.zrange("{t:tenant-a}:user:user-1:conns", 0, -1) == []


@pytest.mark.usefixtures("lambda_env")
@pytest.mark.parametrize("body", ["{not json", '{"action":"no_such_action"}', '{"action":"ping","data":{"x":NaN}}', ""])
def test_a_flood_of_frames_refused_anyway_counts_against_the_limit_and_is_closed_too(
    body: str, token: Callable[..., str], connections_api: ConnectionsApi
) -> None:
    cid = "flooder-0000003="
    assert connect_as(token("tenant-a", "user-1"), cid) == 200
    clock = SteppingClock()
    service = message_service(clock, rate_per_s=10, burst=20)

    ping_at(service, clock, connections_api, cid, [i / 200 for i in range(6_000)], body=body)

    assert connections_api.deleted == [cid]
    codes = [reply["data"]["code"] for reply in connections_api.frames(cid)]  # type: ignore[index]
    assert codes[0] in ("bad_request", "unknown_action") and "rate_limited" in codes


@pytest.mark.usefixtures("lambda_env")
def test_a_client_within_its_limit_is_never_closed(
    token: Callable[..., str], connections_api: ConnectionsApi, store: redis.Redis
) -> None:
    steady, bursty = "steady-00000001=", "bursty-00000001="
    assert connect_as(token("tenant-a", "user-1"), steady) == 200
    assert connect_as(token("tenant-a", "user-2"), bursty) == 200
    clock = SteppingClock()
    service = message_service(clock, rate_per_s=10, burst=20)

    ping_at(service, clock, connections_api, steady, [i / 10 for i in range(1_000)])  # at its rate, 100 s
    # Within its rate on average, but 25 frames at once every 10 s: 5 of each burst are refused.
    ping_at(service, clock, connections_api, bursty, [10.0 * (i // 25) for i in range(25 * 40)])

    assert connections_api.deleted == []
    assert {r["event"] for r in connections_api.frames(steady)} == {"pong"}
    assert [r["event"] for r in connections_api.frames(bursty)].count("error") == 5 * 40
    assert store.exists(f"conn:{steady}") and store.exists(f"conn:{bursty}")
