"""The periodic ``dashboard_status``: each tenant with live connections gets its counts, every minute."""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .event_catalog import validate_event
from .fanout import event_body
from .protocol import iso_time

if TYPE_CHECKING:
    from .registry import Registry
    from .shared_types import Broadcasting, Clock


@dataclass(frozen=True, slots=True)
class DashboardStatusResult:
    tenants: int
    delivered: int
    failed: int
    pruned: int

    def as_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


class DashboardStatusSender:
    """Sends each tenant with live connections its ``dashboard_status`` {activeConnections, activeUsers}.

    The frame is delivered WITHOUT an event-log entry (and so without an ``id``): it is a snapshot that the next
    one (a minute later) supersedes. Logging it would fill every tenant's log with 1,440 entries a day, push real
    events out of the count-bounded log sooner, and make a resuming client replay stale counts. A frame without
    ``id`` leaves the client's ``lastEventId`` untouched, so resumption is unaffected.

    Round trips: 3 on the connection store for all tenants (census: 2, users: 1), then the fan-out, then one
    removal per tenant that had gone connections.
    """

    def __init__(
        self, registry: Registry, broadcaster: Broadcasting, clock: Clock, tenant_concurrency: int = 4
    ) -> None:
        self._registry = registry
        self._broadcaster = broadcaster
        self._clock = clock
        self._tenant_concurrency = tenant_concurrency

    def send(self) -> DashboardStatusResult:
        now = self._clock()
        live = self._registry.census(now)
        if not live:
            return DashboardStatusResult(0, 0, 0, 0)
        tenants = sorted(live)
        all_ids = [cid for t in tenants for cid in live[t]]
        users = dict(zip(all_ids, self._registry.user_ids(all_ids), strict=True))
        occurred_at = iso_time(now)

        def one(tenant_id: str) -> tuple[int, int, int]:
            ids = live[tenant_id]
            data = validate_event(
                "dashboard_status",
                {
                    "activeConnections": len(ids),
                    "activeUsers": len({users[cid] for cid in ids if users[cid] is not None}),
                },
            )
            frame = event_body("dashboard_status", tenant_id, data, occurred_at).encode()
            delivered, failed, gone = self._broadcaster.deliver(frame, ids)
            self._registry.remove(tenant_id, {cid: users[cid] for cid in gone})
            return delivered, failed, len(gone)

        # The fan-out keeps up to FANOUT_CONCURRENCY posts in flight within a tenant; a few tenants at a time keep
        # many small tenants from being served one after another.
        with ThreadPoolExecutor(max_workers=min(self._tenant_concurrency, len(tenants))) as pool:
            outcomes = list(pool.map(one, tenants))
        return DashboardStatusResult(
            tenants=len(tenants),
            delivered=sum(o[0] for o in outcomes),
            failed=sum(o[1] for o in outcomes),
            pruned=sum(o[2] for o in outcomes),
        )
