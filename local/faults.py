"""Fault injection for client-resilience tests (off unless rules are given).

A rule is text, ``KIND[:ARG]@OPERATION[#COUNT][%PERCENT]``:

- ``410@post`` — every @connections POST answers 410 GoneException;
- ``429@post#3`` — the next three POSTs answer 429 LimitExceededException;
- ``500@any%10`` — one call in ten (of any operation) answers 500;
- ``latency:250@post`` — each POST waits 250 ms first;
- ``drop@post#1`` — the next POST closes its connection (as if the network dropped it; 1006) and answers 410.

Operations: ``post``, ``get``, ``delete``, ``any``. Rules come from ``--fault`` flags or
``POST /__local/faults`` (JSON ``{"rules": [...]}``; ``DELETE /__local/faults`` clears them).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

_RULE = re.compile(
    r"^(?P<kind>410|429|500|latency|drop)(?::(?P<arg>\d+(?:\.\d+)?))?@(?P<op>post|get|delete|any)"
    r"(?:#(?P<count>\d+))?(?:%(?P<percent>\d+(?:\.\d+)?))?$"
)


class FaultRuleError(ValueError):
    pass


@dataclass(slots=True)
class FaultRule:
    kind: str
    operation: str
    argument: float = 0.0
    remaining: int | None = None
    percent: float = 100.0
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> FaultRule:
        match = _RULE.match(text.strip())
        if match is None:
            raise FaultRuleError(f"bad fault rule {text!r} (see --help: KIND[:ARG]@OPERATION[#COUNT][%PERCENT])")
        count = match.group("count")
        percent = match.group("percent")
        return cls(
            kind=match.group("kind"),
            operation=match.group("op"),
            argument=float(match.group("arg") or 0),
            remaining=int(count) if count else None,
            percent=float(percent) if percent else 100.0,
            text=text.strip(),
        )


@dataclass(slots=True)
class Fault:
    kind: str
    argument: float


class Faults:
    def __init__(self, rules: list[str] | None = None) -> None:
        self.rules: list[FaultRule] = [FaultRule.parse(rule) for rule in rules or []]

    def __bool__(self) -> bool:
        return bool(self.rules)

    def set(self, rules: list[str]) -> None:
        self.rules = [FaultRule.parse(rule) for rule in rules]

    def add(self, rules: list[str]) -> None:
        self.rules.extend(FaultRule.parse(rule) for rule in rules)

    def clear(self) -> None:
        self.rules = []

    def describe(self) -> list[dict[str, object]]:
        return [{"rule": rule.text, "remaining": rule.remaining} for rule in self.rules]

    def draw(self, operation: str) -> list[Fault]:
        """The faults that apply to one call: latency first, then at most one failure."""
        latency: list[Fault] = []
        failure: list[Fault] = []
        for rule in list(self.rules):
            if rule.operation not in (operation, "any"):
                continue
            if rule.kind != "latency" and failure:
                continue
            if rule.percent < 100.0 and random.uniform(0, 100) >= rule.percent:
                continue
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.rules.remove(rule)
            (latency if rule.kind == "latency" else failure).append(Fault(rule.kind, rule.argument))
        return latency + failure
