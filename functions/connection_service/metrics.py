"""CloudWatch metrics in Embedded Metric Format (EMF): counted during an invocation, written at its end.

Lambda sends a function's stdout to CloudWatch Logs, which turns each EMF document into metric values: no API
call and no dependency. Every metric carries the ``Service`` and ``Stage`` dimensions, and some one more
(``Reason``, ``Action``). One JSON line is written per set of dimensions per invocation.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Mapping

NAMESPACE = "NeverMissCall/ConnectionService"
COUNT = "Count"
MILLISECONDS = "Milliseconds"
MAX_VALUES = 100  # EMF's limit of values per metric in one document

Dimensions = tuple[tuple[str, str], ...]


def _stdout(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


class Metrics:
    """The metrics of the invocation in progress; :meth:`flush` writes and forgets them."""

    def __init__(
        self,
        dimensions: Mapping[str, str],
        *,
        namespace: str = NAMESPACE,
        write: Callable[[str], None] = _stdout,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._dimensions = dict(dimensions)
        self._namespace = namespace
        self._write = write
        self._clock = clock
        self._pending: dict[Dimensions, dict[str, tuple[str, list[float]]]] = {}

    def count(self, name: str, value: float = 1, **dimensions: str) -> None:
        self._add(name, COUNT, value, dimensions)

    def milliseconds(self, name: str, value: float, **dimensions: str) -> None:
        self._add(name, MILLISECONDS, round(value, 3), dimensions)

    def _add(self, name: str, unit: str, value: float, dimensions: Mapping[str, str]) -> None:
        key = tuple(sorted({**self._dimensions, **dimensions}.items()))
        metrics = self._pending.setdefault(key, {})
        _, values = metrics.setdefault(name, (unit, []))
        if unit == COUNT and values:
            values[0] += value
        else:
            values.append(value)

    def flush(self) -> None:
        """Write one EMF document per set of dimensions (nothing when nothing was counted)."""
        pending, self._pending = self._pending, {}
        timestamp = int(self._clock() * 1000)
        for dimensions, metrics in pending.items():
            for start in range(0, max(len(values) for _, values in metrics.values()), MAX_VALUES):
                self._write(self._document(timestamp, dimensions, metrics, start))

    def _document(
        self, timestamp: int, dimensions: Dimensions, metrics: dict[str, tuple[str, list[float]]], start: int
    ) -> str:
        chunk = {name: (unit, values[start : start + MAX_VALUES]) for name, (unit, values) in metrics.items()}
        chunk = {name: entry for name, entry in chunk.items() if entry[1]}
        document: dict[str, object] = {
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {
                        "Namespace": self._namespace,
                        "Dimensions": [[name for name, _ in dimensions]],
                        "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in chunk.items()],
                    }
                ],
            },
            **dict(dimensions),
        }
        for name, (_, values) in chunk.items():
            document[name] = values[0] if len(values) == 1 else values
        return json.dumps(document, separators=(",", ":"))
