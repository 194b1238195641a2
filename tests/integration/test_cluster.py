"""What only a Redis Cluster can do to the service: tenants on different primaries, a slot migrating while events are
broadcast, a primary failing over to its replica while dashboards connect. The real handlers, the session's real
cluster (3 primaries, 1 replica each), the @connections stand-in."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connection_service import broadcast, connect, redis_keys
from local.redis_server import EmbeddedCluster, wait_for
from tests.integration.test_broadcast import CALL, http, open_connection, send_action
from tests.support.aws_connections import ConnectionsApi
from tests.support.cluster_ops import (
    command,
    fail_over,
    holds,
    migrate_slot,
    owner,
    primaries,
    replica_of,
    tenant_on,
    tenant_slot,
)
from tests.support.lambda_env import LambdaContext, load_event, reset_cold_start
from tests.support.redis_backends import CLUSTER

pytestmark = [
    pytest.mark.parametrize("redis_backend", [CLUSTER], indirect=True),
    pytest.mark.usefixtures("lambda_env"),
]


def event_ids(frames: list[dict[str, object]], event: str = "call_incoming") -> list[str]:
    return [str(frame["id"]) for frame in frames if frame.get("event") == event]


def test_two_tenants_on_different_primaries_each_see_only_their_own(
    redis_cluster: EmbeddedCluster, token: Callable[..., str], connections_api: ConnectionsApi
) -> None:
    first, second = primaries(redis_cluster)[:2]
    tenant_a, tenant_b = tenant_on(redis_cluster, first, "left"), tenant_on(redis_cluster, second, "right")
    open_connection(token(tenant_a, "u1"), "A1AAAAAAAAAAAA=")
    open_connection(token(tenant_b, "u2"), "B1BBBBBBBBBBBB=")
    send_action("A1AAAAAAAAAAAA=", "subscribe_conversation", {"conversationId": "shared-name"})
    send_action("B1BBBBBBBBBBBB=", "subscribe_conversation", {"conversationId": "shared-name"})
    connections_api.reset()

    to_a = http("POST", f"/broadcast/tenant/{tenant_a}", {"event": "call_incoming", "data": CALL})
    to_b = http(
        "POST",
        "/broadcast/conversation/shared-name",
        {"event": "ai_activated", "tenantId": tenant_b, "data": {"conversationId": "shared-name"}},
    )
    status = http("GET", "/connections/status")

    assert to_a["json"]["delivered"] == 1 and to_b["json"]["delivered"] == 1
    assert [f["event"] for f in connections_api.frames("A1AAAAAAAAAAAA=")] == ["call_incoming"]
    assert [f["event"] for f in connections_api.frames("B1BBBBBBBBBBBB=")] == ["ai_activated"]
    assert {t["tenantId"]: t["connections"] for t in status["json"]["perTenant"]} == {tenant_a: 1, tenant_b: 1}
    # Each tenant's keys, its event log included, are all on its own primary and none on the other's.
    for tenant, home, other in ((tenant_a, first, second), (tenant_b, second, first)):
        for key in (
            redis_keys.tenant_connections(tenant),
            redis_keys.events(tenant),
            redis_keys.conversation(tenant, "shared-name"),
        ):
            assert holds(home, key) and not holds(other, key)


class Broadcaster(threading.Thread):
    """An internal service broadcasting numbered events with event ids, as fast as it can, until stopped: it resends
    an event the service answered 503 (retryable) with the same id, as the API asks, and records every outcome."""

    def __init__(self, tenant: str) -> None:
        super().__init__(daemon=True)
        self.tenant = tenant
        self.accepted: list[str] = []
        self.refused: list[dict[str, Any]] = []
        self.retries = 0
        self.started_calls = 0
        self.progress = threading.Condition()
        self.stopping = threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            number = 0
            while not self.stopping.is_set():
                event_id = f"evt-{number:04d}"
                while True:
                    with self.progress:
                        self.started_calls += 1
                        self.progress.notify_all()
                    answer = broadcast.handler(
                        {"event": "call_incoming", "tenantId": self.tenant, "data": CALL, "eventId": event_id},
                        LambdaContext(),
                    )
                    if answer.get("ok"):
                        self.accepted.append(event_id)
                        break
                    if not answer.get("retryable"):
                        self.refused.append(answer)
                        return
                    self.retries += 1
                number += 1
        except BaseException as exc:  # a handler that raises: what this test is here to rule out
            self.failure = exc

    def wait_for_calls(self, count: int) -> None:
        """Until ``count`` more calls have started (each one meets the cluster as it is now)."""
        with self.progress:
            target = self.started_calls + count
            assert self.progress.wait_for(lambda: self.started_calls >= target or not self.is_alive(), timeout=60)


@pytest.fixture
def broadcaster_of() -> Iterator[Callable[[str], Broadcaster]]:
    started: list[Broadcaster] = []

    def start(tenant: str) -> Broadcaster:
        thread = Broadcaster(tenant)
        started.append(thread)
        thread.start()
        return thread

    yield start
    for thread in started:
        thread.stopping.set()
        thread.join(timeout=30)


def test_a_slot_migrating_mid_broadcast_loses_no_event_and_crashes_no_handler(
    redis_cluster: EmbeddedCluster,
    token: Callable[..., str],
    connections_api: ConnectionsApi,
    broadcaster_of: Callable[[str], Broadcaster],
) -> None:
    source, target = primaries(redis_cluster)[:2]
    tenant = tenant_on(redis_cluster, source, "moving")
    slot = tenant_slot(tenant)
    connections = [f"MOVE{n:011d}=" for n in range(3)]
    for n, cid in enumerate(connections):
        open_connection(token(tenant, f"u{n}"), cid)
    sender = broadcaster_of(tenant)

    def broadcasts_meet(state: str) -> None:
        sender.wait_for_calls(3)

    migrate_slot(redis_cluster, slot, target, broadcasts_meet)
    sender.wait_for_calls(3)  # and once every node agrees the slot moved
    sender.stopping.set()
    sender.join(timeout=60)

    assert sender.failure is None and sender.refused == []
    assert owner(redis_cluster, slot) is target and holds(target, redis_keys.events(tenant))
    assert len(sender.accepted) >= 9 and len(set(sender.accepted)) == len(sender.accepted)
    # Every accepted event is in the log once, in order, and reached every connection once, in that order.
    logged = http("GET", f"/connections/tenant/{tenant}")
    assert logged["json"]["count"] == len(connections)
    resumed = send_action(connections[0], "hello", {"lastEventId": "0-0"})
    assert resumed["statusCode"] == 200
    replayed = connections_api.frames(connections[0])[-len(sender.accepted) - 1 : -1]
    assert [frame["event"] for frame in replayed] == ["call_incoming"] * len(sender.accepted)
    ids = [str(frame["id"]) for frame in replayed]
    assert ids == sorted(ids, key=lambda i: tuple(int(p) for p in i.split("-"))) and len(set(ids)) == len(ids)
    for cid in connections[1:]:
        assert event_ids(connections_api.frames(cid)) == ids


class Connector(threading.Thread):
    """Dashboards connecting one after another, as many as they are allowed to; one refused (503: retry later) comes
    back as a new connection, as a client reconnecting does."""

    def __init__(self, tenant: str, token: Callable[..., str]) -> None:
        super().__init__(daemon=True)
        self.tenant = tenant
        self.token = token
        self.admitted: list[str] = []
        self.statuses: list[int] = []
        self.permits = threading.Semaphore(0)
        self.allowed = 0
        self.closing = False
        self.done = threading.Condition()
        self.failure: BaseException | None = None

    def allow(self, count: int) -> None:
        self.allowed += count
        for _ in range(count):
            self.permits.release()

    def close(self) -> None:
        self.closing = True
        self.permits.release()
        self.join(timeout=60)

    def run(self) -> None:
        try:
            while self.permits.acquire(timeout=60) and not self.closing:
                connection_id = uuid.uuid4().hex[:15] + "="
                event = load_event("websocket_connect", REPLACE_WITH_TOKEN=self.token(self.tenant, "dashboards"))
                event["requestContext"]["connectionId"] = connection_id
                status = int(connect.handler(event, LambdaContext())["statusCode"])
                with self.done:
                    self.statuses.append(status)
                    if status == 200:
                        self.admitted.append(connection_id)
                    self.done.notify_all()
        except BaseException as exc:
            self.failure = exc

    def wait_all_done(self) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.statuses) >= self.allowed or self.failure, timeout=60)


def test_a_primary_failing_over_mid_connect_keeps_every_admitted_connection(
    redis_cluster: EmbeddedCluster,
    token: Callable[..., str],
    connections_api: ConnectionsApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAX_CONNECTIONS_PER_USER", "0")
    monkeypatch.setenv("CONNECT_RATE_LIMIT_PER_MINUTE", "0")
    primary = primaries(redis_cluster)[0]
    replica = replica_of(redis_cluster, primary)
    tenant = tenant_on(redis_cluster, primary, "failing")
    connector = Connector(tenant, token)
    connector.start()
    connector.allow(3)
    connector.wait_all_done()

    connector.allow(10)  # connecting while the failover runs
    fail_over(redis_cluster, replica)
    connector.wait_all_done()
    connector.allow(3)  # and once it is over
    connector.wait_all_done()
    connector.close()

    assert connector.failure is None
    assert set(connector.statuses) <= {200, 503} and connector.statuses.count(200) >= 6
    assert owner(redis_cluster, tenant_slot(tenant)) is replica  # the former replica serves the tenant now
    # Every connection admitted before, during and after the failover is known and reached.
    answer = http("POST", f"/broadcast/tenant/{tenant}", {"event": "call_incoming", "data": CALL})
    assert answer["json"]["delivered"] == len(connector.admitted)
    for cid in connector.admitted:
        assert [f["event"] for f in connections_api.frames(cid)] == ["call_incoming"]


def connect_status(token: str, connection_id: str) -> int:
    event = load_event("websocket_connect", REPLACE_WITH_TOKEN=token)
    event["requestContext"]["connectionId"] = connection_id
    return int(connect.handler(event, LambdaContext())["statusCode"])


def test_a_cluster_that_is_down_refuses_with_503_and_serves_again_once_it_is_back(
    redis_cluster: EmbeddedCluster, token: Callable[..., str]
) -> None:
    tenant = tenant_on(redis_cluster, primaries(redis_cluster)[2], "outage")
    slot = tenant_slot(tenant)
    home = owner(redis_cluster, slot)
    assert connect_status(token(tenant, "u1"), "BEFOREDOWN00000=") == 200

    serving = primaries(redis_cluster)
    # A slot served by no one: the primaries report the cluster down. The replicas forget it too, or one promoted
    # meanwhile (a node timeout on a loaded machine) would claim it back.
    for node in (node for node in redis_cluster.nodes if node.pid is not None):
        command(node, "CLUSTER DELSLOTS", slot)
    try:
        wait_for(
            lambda: all(command(node, "CLUSTER INFO")["cluster_state"] == "fail" for node in serving),
            30,
            "every primary reports cluster_state:fail",
        )
        assert connect_status(token(tenant, "u2"), "DURINGDOWN00000=") == 503
        health = http("GET", "/health/detailed")
        assert health["statusCode"] == 503 and "connections" in health["json"]["problems"]
    finally:
        command(home, "CLUSTER ADDSLOTS", slot)
        redis_cluster.wait_healthy()

    assert connect_status(token(tenant, "u3"), "AFTERDOWN000000=") == 200
    listed = http("GET", f"/connections/tenant/{tenant}")["json"]
    assert sorted(c["id"] for c in listed["connections"]) == ["AFTERDOWN000000=", "BEFOREDOWN00000="]


def test_a_whole_cluster_down_then_back_is_503_meanwhile_and_the_warm_function_recovers_by_itself(
    token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmbeddedCluster(masters=3, replicas=0) as own:
        monkeypatch.setenv("REDIS_URL", own.url)
        reset_cold_start()
        assert connect_status(token("tenant-a", "u1"), "BEFOREOUTAGE000=") == 200

        for node in own.nodes:  # every node crashes: the client cannot even read the slot map again
            node.kill()
        assert connect_status(token("tenant-a", "u2"), "DURINGOUTAGE000=") == 503

        for node in own.nodes:  # back on the same ports, from their nodes.conf (empty: nothing is persisted)
            node.launch()
        for node in own.nodes:
            node.wait_ready()
        own.wait_healthy()
        assert connect_status(token("tenant-a", "u3"), "AFTEROUTAGE0000=") == 200
