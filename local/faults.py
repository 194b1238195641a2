"""Fault injection for client-resilience tests (off unless rules are given); the rule syntax: :data:`RULE_SYNTAX`."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

RULE_SYNTAX = """\
Fault rules (--fault, repeatable; or POST /__local/faults {"rules": [...]}; DELETE /__local/faults clears them):
KIND[:ARG]@OP[#COUNT][%PERCENT]
  KIND: 410 | 429 | 500 (answer GoneException, LimitExceededException, 500) | latency:MS (wait MS first)
        | drop (close the client's connection without a close frame, $disconnect with 1006; answer 410)
  OP: post | get | delete | any (the @connections operation).  #COUNT: only the next COUNT calls.
  %PERCENT: only that share of calls.
  Examples: 410@post  429@post#3  500@any%10  latency:250@get  drop@post#1
"""
"""The one description of the rule syntax: ``python -m local --help`` prints it."""

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
            raise FaultRuleError(f"bad fault rule {text!r} (see --help: KIND[:ARG]@OP[#COUNT][%PERCENT])")
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
