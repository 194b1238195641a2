"""Redis key names. Every key of a tenant carries the tenant in a hash tag, ``{t:<tenant>}``, so a tenant's keys
share one cluster slot; a connection's own hash, ``conn:<id>``, is found by its id alone and lives elsewhere.

The two stores are told apart by prefix (in cluster mode they share database 0): event-log keys start with
``log:``, connection-state keys never do.
"""

from __future__ import annotations


def connection(connection_id: str) -> str:
    return f"conn:{connection_id}"


def tenant_tag(tenant_id: str) -> str:
    return "{t:" + tenant_id + "}"


def tenant_connections(tenant_id: str) -> str:
    return f"{tenant_tag(tenant_id)}:conns"


def user_connections(tenant_id: str, user_id: str) -> str:
    return f"{tenant_tag(tenant_id)}:user:{user_id}:conns"


def conversation(tenant_id: str, conversation_id: str) -> str:
    return f"{tenant_tag(tenant_id)}:conv:{conversation_id}"


def subscriptions(tenant_id: str, connection_id: str) -> str:
    return f"{tenant_tag(tenant_id)}:subs:{connection_id}"


def connect_rate(tenant_id: str, scope: str, subject: str) -> str:
    return f"{tenant_tag(tenant_id)}:rl:connect:{scope}:{subject}"


EVENT_LOG_PREFIX = "log:"


def events(tenant_id: str) -> str:
    return f"{EVENT_LOG_PREFIX}{tenant_tag(tenant_id)}:events"


def idempotency(tenant_id: str, event_id: str) -> str:
    return f"{EVENT_LOG_PREFIX}{tenant_tag(tenant_id)}:idem:{event_id}"


TENANTS = "tenants"
"""Set of tenants with registered connections (for status and the periodic dashboard_status)."""
