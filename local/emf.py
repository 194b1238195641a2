"""CloudWatch Embedded Metric Format (EMF) in the functions' output: recognised, summed, shown readably.

In AWS, CloudWatch Logs turns each EMF document a function prints into metric values. Here the gateway logs a
readable line instead of the raw JSON, and keeps running totals per metric and dimension values, served on
``GET /__local/metrics``. A line that is not a well-formed EMF document is relayed as it is.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_SERIES = 10_000  # distinct (metric, dimension values) kept; beyond that new ones are shown but not summed


@dataclass(slots=True)
class Series:
    namespace: str
    name: str
    unit: str
    dimensions: tuple[tuple[str, str], ...]
    total: float = 0.0
    samples: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "unit": self.unit,
            "dimensions": dict(self.dimensions),
            "sum": self.total,
            "samples": self.samples,
        }


def _numbers(value: Any) -> list[float] | None:
    values = value if isinstance(value, list) else [value]
    if not values or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        return None
    return [float(v) for v in values]


def _format(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.3g}"


class MetricsBoard:
    def __init__(self) -> None:
        self._series: dict[tuple[str, str, tuple[tuple[str, str], ...]], Series] = {}

    def record(self, line: str) -> str | None:
        """The readable form of an EMF document, its values added to the totals; ``None`` if ``line`` is not one."""
        if not line.startswith("{") or '"_aws"' not in line:
            return None
        try:
            document = json.loads(line)
            directives = document["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return None
        if not isinstance(directives, list):
            return None
        shown: list[str] = []
        for directive in directives:
            parsed = self._directive(document, directive)
            if parsed is None:
                return None
            shown.extend(parsed)
        return " ".join(shown) if shown else None

    def _directive(self, document: dict[str, Any], directive: Any) -> list[str] | None:
        if not isinstance(directive, dict) or not isinstance(directive.get("Namespace"), str):
            return None
        names = {n for group in directive.get("Dimensions") or [] if isinstance(group, list) for n in group}
        dimensions = tuple(sorted((str(n), str(document.get(n, ""))) for n in names))
        shown = []
        for metric in directive.get("Metrics") or []:
            name = metric.get("Name") if isinstance(metric, dict) else None
            values = _numbers(document.get(name)) if isinstance(name, str) else None
            if name is None or values is None:
                return None
            unit = str(metric.get("Unit", "None"))
            self._add(directive["Namespace"], name, unit, dimensions, values)
            suffix = "ms" if unit == "Milliseconds" else ""
            shown.append(f"{name}=" + ",".join(_format(v) + suffix for v in values))
        if dimensions:
            shown.append("(" + " ".join(f"{k}={v}" for k, v in dimensions) + ")")
        return shown

    def _add(
        self, namespace: str, name: str, unit: str, dimensions: tuple[tuple[str, str], ...], values: list[float]
    ) -> None:
        key = (namespace, name, dimensions)
        series = self._series.get(key)
        if series is None:
            if len(self._series) >= MAX_SERIES:
                return
            series = self._series[key] = Series(namespace, name, unit, dimensions)
        series.total += sum(values)
        series.samples += len(values)

    def summary(self) -> list[dict[str, Any]]:
        return [series.as_dict() for series in self._series.values()]
