"""Redis round trips counted as socket writes of the real redis client (one per command or pipeline), per node:
a cluster client writes a pipeline once to every node it touches, so a budget holds per node."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator

import pytest
import redis.connection


class RoundTrips:
    def __init__(self) -> None:
        self.by_node: Counter[str] = Counter()

    @property
    def count(self) -> int:
        return sum(self.by_node.values())

    def per_node(self, call: Callable[[], object]) -> int:
        """The most round trips ``call`` made to any one node."""
        before = self.by_node.copy()
        call()
        return max((self.by_node - before).values(), default=0)

    def reset(self) -> None:
        self.by_node.clear()


@pytest.fixture
def round_trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[RoundTrips]:
    counter = RoundTrips()
    original: Callable[[redis.connection.AbstractConnection, object, bool], None] = (
        redis.connection.AbstractConnection.send_packed_command
    )

    def counting(self: redis.connection.AbstractConnection, command: object, check_health: bool = True) -> None:
        counter.by_node[f"{getattr(self, 'host', '')}:{getattr(self, 'port', '')}"] += 1
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    yield counter
