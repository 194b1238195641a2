"""A template's schedules: ``AWS::Events::Rule`` with a ``ScheduleExpression`` and ``AWS::Scheduler::Schedule``,
each target that is a function of the template."""

from __future__ import annotations

from typing import Any

from local.model import ScheduleSpec
from local.template_view import Properties, TemplateView


def schedules(view: TemplateView) -> list[ScheduleSpec]:
    found: list[ScheduleSpec] = []
    region, account = view.resolver.region, view.resolver.account_id
    for logical_id, props in view.of_type("AWS::Events::Rule"):
        expression = props.get("ScheduleExpression")
        if expression is None:
            view.warnings.append(f"{logical_id}: event-pattern rules are not emulated")
            continue
        arn = f"arn:aws:events:{region}:{account}:rule/{logical_id}"
        for target in props.get("Targets") or []:
            found.extend(_schedule(view, logical_id, props, expression, target, arn))
    for logical_id, props in view.of_type("AWS::Scheduler::Schedule"):
        arn = f"arn:aws:scheduler:{region}:{account}:schedule/default/{logical_id}"
        expression = props.get("ScheduleExpression", "")
        found.extend(_schedule(view, logical_id, props, expression, props.get("Target") or {}, arn))
    return found


def _schedule(
    view: TemplateView, logical_id: str, props: Properties, expression: Any, target: Properties, arn: str
) -> list[ScheduleSpec]:
    """The schedule of one rule target, or none when the target is not a function of the template."""
    function = view.function_of_uri(target.get("Arn"), logical_id)
    if function is None:
        return []
    text_input = target.get("Input")
    return [
        ScheduleSpec(
            name=logical_id,
            function=function,
            expression=view.resolver.to_string(expression),
            enabled=str(view.resolver.resolve(props.get("State", "ENABLED"))) == "ENABLED",
            input=None if text_input is None else view.resolver.to_string(text_input),
            rule_arn=arn,
        )
    ]
