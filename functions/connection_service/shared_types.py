"""Types every module may import: the clock, a broadcast request and its result, and the protocols of the
``@connections`` client and of the broadcaster. Imports nothing of the package but :mod:`.errors`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from .errors import ConnectionGone, DeliveryFailed

Clock = Callable[[], float]
"""Seconds since the epoch (``time.time``)."""

Outcome = ConnectionGone | DeliveryFailed | None
"""What posting to one connection came to; None: delivered."""


@dataclass(frozen=True, slots=True)
class Broadcast:
    event: str
    tenant_id: str
    data: dict[str, Any]
    conversation_id: str | None = None
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class BroadcastResult:
    id: str
    delivered: int
    failed: int
    pruned: int
    duplicate: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ConnectionsClient(Protocol):
    """The ``@connections`` management API (management_client.ManagementApi)."""

    def post(self, connection_id: str, data: bytes) -> None: ...

    def post_many(self, connection_ids: Sequence[str], data: bytes) -> list[Outcome]: ...

    def delete(self, connection_id: str) -> None: ...


class Broadcasting(Protocol):
    """The fan-out (fanout.Broadcaster)."""

    def broadcast(self, request: Broadcast) -> BroadcastResult: ...

    def deliver(self, frame: bytes, recipients: list[str]) -> tuple[int, int, list[str]]: ...
