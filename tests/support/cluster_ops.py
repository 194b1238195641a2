"""What an operator (or ElastiCache) does to a running Redis Cluster, done to the test cluster: read who owns a slot,
migrate a slot between primaries step by step, fail a primary over to its replica."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import redis
from redis.crc import key_slot

from connection_service import redis_keys
from local.redis_server import EmbeddedCluster, RedisServer, wait_for


def command(node: RedisServer, *args: Any) -> Any:
    with contextlib.closing(node.client(decode_responses=True)) as admin:
        execute: Callable[..., Any] = admin.execute_command
        return execute(*args)


def node_id(node: RedisServer) -> str:
    return str(command(node, "CLUSTER MYID"))


def tenant_slot(tenant_id: str) -> int:
    return key_slot(redis_keys.tenant_connections(tenant_id).encode())


def owner(cluster: EmbeddedCluster, slot: int) -> RedisServer:
    """The primary serving ``slot``, as the nodes agree (the cluster is healthy)."""
    for first, last, primary, *_ in command(cluster.nodes[0], "CLUSTER SLOTS"):
        if first <= slot <= last:
            return next(node for node in cluster.nodes if node.port == int(primary[1]))
    raise LookupError(f"slot {slot} is not served")


def primaries(cluster: EmbeddedCluster) -> list[RedisServer]:
    return [node for node in cluster.nodes if node.pid is not None and command(node, "ROLE")[0] == "master"]


def replica_of(cluster: EmbeddedCluster, primary: RedisServer) -> RedisServer:
    primary_id = node_id(primary)
    for node in cluster.nodes:
        role = command(node, "ROLE")
        if role[0] == "slave" and int(role[2]) == primary.port:
            return node
    raise LookupError(f"{primary.address} ({primary_id}) has no replica")


def tenant_on(cluster: EmbeddedCluster, primary: RedisServer, prefix: str) -> str:
    """A tenant id whose keys land on ``primary``."""
    for n in range(10_000):
        tenant = f"{prefix}-{n}"
        if owner(cluster, tenant_slot(tenant)) is primary:
            return tenant
    raise LookupError(f"no tenant {prefix}-N lands on {primary.address}")


def migrate_slot(
    cluster: EmbeddedCluster, slot: int, target: RedisServer, between_steps: Callable[[str], None]
) -> None:
    """Move ``slot`` to ``target`` as redis-cli --cluster reshard does, calling ``between_steps(state)`` in each
    state clients can meet: "migrating" (IMPORTING/MIGRATING set, keys still on the source: ASK for keys it lacks,
    TRYAGAIN for scripts over keys it holds only some of), "moved-keys" (keys on the target, slot not yet handed
    over: ASK), "owned" (the slot is the target's: MOVED)."""
    source = owner(cluster, slot)
    source_id, target_id = node_id(source), node_id(target)
    command(target, "CLUSTER SETSLOT", slot, "IMPORTING", source_id)
    command(source, "CLUSTER SETSLOT", slot, "MIGRATING", target_id)
    between_steps("migrating")
    while names := command(source, "CLUSTER GETKEYSINSLOT", slot, 1000):
        command(source, "MIGRATE", target.host, target.port, "", 0, 5000, "KEYS", *names)
    between_steps("moved-keys")
    for node in primaries(cluster):
        command(node, "CLUSTER SETSLOT", slot, "NODE", target_id)
    between_steps("owned")
    cluster.wait_healthy()


def fail_over(cluster: EmbeddedCluster, replica: RedisServer) -> None:
    """CLUSTER FAILOVER on ``replica`` (the coordinated kind: its primary stops taking writes until the replica has
    them all, then they swap roles); returns once it is a primary and every node agrees."""
    command(replica, "CLUSTER FAILOVER")
    wait_for(lambda: command(replica, "ROLE")[0] == "master", 30, f"{replica.address} promoted")
    cluster.wait_healthy()


def holds(node: RedisServer, key: str) -> bool:
    """Whether ``node`` itself holds ``key`` (asked directly, no redirection followed)."""
    with contextlib.closing(node.client(decode_responses=True)) as admin:
        try:
            return bool(admin.exists(key))
        except redis.ResponseError:  # MOVED: another node serves the key's slot
            return False
