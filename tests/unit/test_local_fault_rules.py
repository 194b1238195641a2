"""Fault rules: what the syntax accepts and refuses, how rules are drawn, and that ``--help`` and the README
take the syntax from its one description."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.__main__ import parser
from local.faults import RULE_SYNTAX, FaultRule, FaultRuleError, Faults

README = Path(__file__).resolve().parents[2] / "local" / "README.md"


def test_a_full_rule_parses_into_its_parts() -> None:
    rule = FaultRule.parse(" latency:12.5@get#3%25 ")
    assert (rule.kind, rule.argument, rule.operation, rule.remaining, rule.percent) == ("latency", 12.5, "get", 3, 25.0)
    assert rule.text == "latency:12.5@get#3%25"


def test_a_bare_rule_applies_to_every_call() -> None:
    rule = FaultRule.parse("410@post")
    assert (rule.kind, rule.argument, rule.remaining, rule.percent) == ("410", 0.0, None, 100.0)


@pytest.mark.parametrize(
    "text", ["", "404@post", "410", "410@put", "410@post#", "latency:x@get", "410@post%", "drop@any#1 x"]
)
def test_a_malformed_rule_is_refused_naming_the_syntax(text: str) -> None:
    with pytest.raises(FaultRuleError, match=re.escape("KIND[:ARG]@OP[#COUNT][%PERCENT]")):
        FaultRule.parse(text)


def test_every_example_in_the_syntax_parses() -> None:
    examples = re.search(r"Examples: (.*)", RULE_SYNTAX)
    assert examples is not None
    for example in examples[1].split():
        assert FaultRule.parse(example).text == example


def test_latency_comes_before_at_most_one_failure_and_counted_rules_run_out() -> None:
    faults = Faults(["500@any#1", "latency:5@post", "410@post", "429@get"])
    first = faults.draw("post")
    assert [(f.kind, f.argument) for f in first] == [("latency", 5.0), ("500", 0.0)]
    assert [f.kind for f in faults.draw("post")] == ["latency", "410"]  # the counted rule is used up
    assert [f.kind for f in faults.draw("delete")] == []
    assert [r["rule"] for r in faults.describe()] == ["latency:5@post", "410@post", "429@get"]


def test_help_prints_the_syntax() -> None:
    assert RULE_SYNTAX in parser().format_help()


def test_the_readme_points_at_help_instead_of_restating_the_syntax() -> None:
    text = README.read_text()
    assert "KIND[:ARG]@OP" not in text
    assert "python -m local --help" in text.split("## Fault injection", 1)[1].split("\n## ", 1)[0]
