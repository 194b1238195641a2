"""The broadcast routes answered without FastAPI (direct_routes): the same answers as the app, and only for plain
requests; everything else falls through to the app.

Each plain request is sent twice through the real handler's two paths, the direct one and the app (with a
different ``eventId``, so both really broadcast), against a real Redis; the answers must match but for the event
log id each one got.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from connection_service import broadcast, direct_routes, wiring
from tests.integration.conftest import SERVICE_KEY
from tests.integration.test_broadcast import CALL, http_event, open_connection
from tests.integration.test_internal_api import redis_down
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import LambdaContext, load_event

pytestmark = pytest.mark.usefixtures("lambda_env")

MESSAGE = {"messageId": "m-1", "conversationId": "conv-1", "from": "+15550001111", "body": "hi"}
PLAIN = [
    ("/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL}, 202),
    ("/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL, "eventId": "replaced"}, 202),
    ("/broadcast/conversation/conv-1", {"event": "message_received", "tenantId": "tenant-a", "data": MESSAGE}, 202),
    ("/broadcast/", {"event": "call_incoming", "tenantId": "tenant-a", "data": CALL}, 202),
    ("/broadcast/", {"event": "message_received", "tenantId": "tenant-a", "conversationId": "conv-1", "data": MESSAGE},
     202),
    # a known event whose data does not fit its model: refused by the fan-out, after the route took it
    ("/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": {"callId": "c-1"}}, 422),
]  # fmt: skip


def through_app(event: dict[str, Any]) -> dict[str, Any]:
    return broadcast.HttpApi().through_app(event, LambdaContext())


def without_id(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer minus the event log id (and the length, which counts it), after checking that length."""
    assert answer["headers"]["content-length"] == str(len(answer["body"].encode()))
    body = json.loads(answer["body"])
    assert body.pop("id")
    return {**answer, "body": body, "headers": {k: v for k, v in answer["headers"].items() if k != "content-length"}}


def with_event_id(event: dict[str, Any], event_id: str) -> dict[str, Any]:
    return {**event, "body": json.dumps({**json.loads(event["body"]), "eventId": event_id})}


@pytest.mark.parametrize(("path", "body", "status"), PLAIN)
def test_a_plain_broadcast_is_answered_directly_as_the_app_answers_it(
    path: str, body: dict[str, Any], status: int, token: Callable[..., str], connections_api: ConnectionsApi
) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    event = http_event("POST", path, body)

    direct = direct_routes.answer(with_event_id(event, "direct-1"), wiring.current())
    app = through_app(with_event_id(event, "app-1"))

    assert direct is not None and direct["statusCode"] == status
    if status == 202:
        assert without_id(direct) == without_id(app)
    else:
        assert direct == app


def test_a_repeated_event_id_is_a_duplicate_on_both_paths(token: Callable[..., str]) -> None:
    open_connection(token("tenant-a", "u1"), "AAAAAAAAAAAAAAA=")
    event = with_event_id(
        http_event("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL}), "evt-1"
    )
    first = direct_routes.answer(event, wiring.current())

    direct = direct_routes.answer(event, wiring.current())
    app = through_app(event)

    assert first is not None and json.loads(first["body"])["duplicate"] is False
    assert direct is not None and json.loads(direct["body"]) == {**json.loads(first["body"]), "duplicate": True,
                                                                 "delivered": 0}  # fmt: skip
    assert direct == app


def test_an_error_is_mapped_and_answered_as_the_app_answers_it(monkeypatch: pytest.MonkeyPatch) -> None:
    redis_down(monkeypatch)
    event = http_event("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})

    direct = direct_routes.answer(event, wiring.current())

    assert direct is not None and direct["statusCode"] == 503 and direct["headers"]["retry-after"]
    assert direct == through_app(event)


def test_a_json_content_type_with_parameters_is_plain() -> None:
    event = http_event("POST", "/broadcast/tenant/tenant-a", {"event": "call_incoming", "data": CALL})
    event["headers"]["content-type"] = "Application/JSON; charset=utf-8"

    assert direct_routes.answer(event, wiring.current()) is not None


def _edited(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def edit(event: dict[str, Any]) -> None:
        event.update(changes)

    return edit


def _header(name: str, value: str | None) -> Callable[[dict[str, Any]], None]:
    def edit(event: dict[str, Any]) -> None:
        event["headers"].pop(name, None)
        if value is not None:
            event["headers"][name] = value

    return edit


def _base64(event: dict[str, Any]) -> None:
    event.update(body=base64.b64encode(event["body"].encode()).decode(), isBase64Encoded=True)


# case -> (path, body, what makes it unusual, the app's answer)
NOT_PLAIN: dict[str, tuple[str, Any, Callable[[dict[str, Any]], None], int]] = {
    "no key": ("/broadcast/tenant/tenant-a", {"event": "call_incoming"}, _header("x-internal-service-key", None), 401),
    "wrong key": (
        "/broadcast/tenant/tenant-a",
        {"event": "call_incoming"},
        _header("x-internal-service-key", SERVICE_KEY + "x"),
        401,
    ),
    "not JSON": ("/broadcast/tenant/tenant-a", {"event": "x"}, _edited(body="{not json"), 422),
    "no event": ("/broadcast/tenant/tenant-a", {"data": CALL}, _edited(), 422),
    "no tenant": ("/broadcast/", {"event": "call_incoming"}, _edited(), 422),
    "brace in tenant": ("/broadcast/tenant/a%7Bb", {"event": "call_incoming"}, _edited(), 422),
    "encoded slash": ("/broadcast/tenant/a%2Fb", {"event": "call_incoming"}, _edited(), 404),
    "text body": ("/broadcast/tenant/tenant-a", {"event": "x"}, _header("content-type", "text/plain"), 422),
    "no content type": ("/broadcast/tenant/tenant-a", {"event": "x"}, _header("content-type", None), 422),
    "base64 body": ("/broadcast/tenant/tenant-a", {"event": "call_incoming"}, _base64, 422),
    "lone surrogate": (
        "/broadcast/tenant/tenant-a",
        {"event": "call_incoming", "data": {"x": "\ud800"}},
        _edited(),
        422,
    ),
}


@pytest.mark.parametrize("case", NOT_PLAIN)
def test_anything_but_a_plain_broadcast_goes_to_the_app(case: str, connections_api: ConnectionsApi) -> None:
    path, body, edit, status = NOT_PLAIN[case]
    event = http_event("POST", path, body)
    edit(event)

    assert direct_routes.answer(event, wiring.current()) is None
    answer = broadcast.handler(event, LambdaContext())
    assert answer["statusCode"] == status and answer == through_app(event)
    assert connections_api.posted == {}


def test_other_routes_and_events_go_to_the_app() -> None:
    status = http_event("GET", "/connections/status")
    rest = load_event("rest_api_v1_get")

    assert direct_routes.answer(status, wiring.current()) is None
    assert direct_routes.answer(rest, wiring.current()) is None
