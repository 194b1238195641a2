"""``local.routing.RouteSelector``: a WebSocket message's route key from the API's ``RouteSelectionExpression``."""

from __future__ import annotations

import pytest

from local.routing import RouteSelector

KEYS = frozenset({"$connect", "$disconnect", "$default", "sendmessage", "chat/join", "42", "true", '{"a":1}'})


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action": "sendmessage", "data": 1}', "sendmessage"),
        ('{"action": "unknown"}', "$default"),
        ('{"data": 1}', "$default"),
        ('{"action": null}', "$default"),
        ('{"action": 42}', "42"),
        ('{"action": true}', "true"),
        ('{"action": {"b": 2}}', "$default"),  # an object, as JSON text, names no route
        ('{"action": "$connect"}', "$default"),  # a reserved key is never selected
        ('{"action": "$default"}', "$default"),
        ("sendmessage", "$default"),  # not JSON
        ('{"action": "sendmessage"', "$default"),  # malformed JSON
        ('["sendmessage"]', "$default"),
        ("", "$default"),
        ("[" * 100_000 + "]" * 100_000, "$default"),  # too deep to evaluate
    ],
)
def test_the_bare_expression_selects_by_a_body_field(body: str, expected: str) -> None:
    assert RouteSelector("$request.body.action").select(body, KEYS) == expected


def test_a_nested_field_is_followed() -> None:
    selector = RouteSelector("$request.body.meta.kind")
    assert selector.select('{"meta": {"kind": "sendmessage"}}', KEYS) == "sendmessage"
    assert selector.select('{"meta": "sendmessage"}', KEYS) == "$default"


def test_a_template_expression_joins_its_fields() -> None:
    selector = RouteSelector("${request.body.area}/${request.body.verb}")
    assert selector.select('{"area": "chat", "verb": "join"}', KEYS) == "chat/join"
    assert selector.select('{"area": "chat", "verb": "leave"}', KEYS) == "$default"
    assert selector.select('{"area": "chat"}', KEYS) == "$default"  # a missing field selects no route
