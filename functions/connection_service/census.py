"""The census: live connections per tenant (``GET /connections/status``, ``GET /connections/tenant/{id}``).

Read through the registry's and event log's pipelined helpers: no KEYS/SCAN, a fixed number of round trips
whatever the number of tenants.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .protocol import iso_time

if TYPE_CHECKING:
    from .eventlog import EventLog
    from .registry import Registry
    from .shared_types import Clock


class ConnectionsStatus:
    """``GET /connections/status`` and ``GET /connections/tenant/{id}``. Redis errors propagate (503)."""

    def __init__(self, registry: Registry, event_log: EventLog, clock: Clock) -> None:
        self._registry = registry
        self._event_log = event_log
        self._clock = clock

    def totals(self) -> dict[str, Any]:
        """Connections and event-log lengths per tenant with live connections.

        Round trips: 2 on the connection store (``tenants`` set, then one pipeline over all tenants) and 1 on
        the event log.
        """
        now = self._clock()
        live = self._registry.census(now)
        tenants = sorted(live)
        lengths = self._event_log.lengths(tenants)
        per_tenant = [
            {"tenantId": t, "connections": len(live[t]), "eventLogLength": lengths.get(t, 0)} for t in tenants
        ]
        return {
            "connections": sum(len(ids) for ids in live.values()),
            "tenants": len(tenants),
            "eventLogEntries": sum(lengths.values()),
            "perTenant": per_tenant,
            "checkedAt": iso_time(now),
        }

    def tenant(self, tenant_id: str) -> dict[str, Any]:
        now = self._clock()
        infos = self._registry.tenant_connections(tenant_id, now)
        return {
            "tenantId": tenant_id,
            "count": len(infos),
            "connections": [
                {
                    "id": info.connection_id,
                    "userId": info.user_id,
                    "connectedAt": iso_time(info.connected_at),
                    "lastSeenAt": iso_time(info.last_seen_at),
                    "subscriptions": info.subscriptions,
                }
                for info in sorted(infos, key=lambda i: (i.connected_at, i.connection_id))
            ],
            "checkedAt": iso_time(now),
        }
