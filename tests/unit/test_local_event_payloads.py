"""``local.event_payloads``: each event builder against the captured payload in tests/events/, key by key and type
by type, with no gateway running."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from local.event_payloads import (
    Peer,
    authorizer_event,
    connect_event,
    connect_headers,
    disconnect_event,
    http_v2_event,
    message_event,
    rest_v1_event,
    schedule_payload,
)
from tests.local.conftest import assert_same_shape
from tests.support.lambda_env import load_event

NOW = 1_700_000_000_123
FREE = frozenset({"headers", "multiValueHeaders", "queryStringParameters", "multiValueQueryStringParameters"})
HTTP_FREE = frozenset({"headers", "pathParameters", "queryStringParameters"})
PEER = Peer(
    connection_id="L0SM9cOFvHcCIhw=",
    connected_at=NOW - 5000,
    source_ip="203.0.113.7",
    user_agent="client/1",
    domain_name="abc123.execute-api.us-east-1.amazonaws.com",
    stage="dev",
    api_id="abc123defg",
)


def _connect(query: str = "token=t&room=a&room=b") -> dict[str, Any]:
    raw = [("Host", PEER.domain_name), ("Sec-WebSocket-Key", "k"), ("Connection", "Upgrade"), ("Upgrade", "websocket")]
    headers = connect_headers(raw, source_ip=PEER.source_ip, port=443, now_ms=NOW)
    return connect_event(PEER, headers=headers, query_string=query, now_ms=NOW, request_id="Lx1mOBFdIAMF0xA=")


def test_connect_event_has_the_captured_shape() -> None:
    event = _connect()
    assert_same_shape(event, load_event("websocket_connect"), free=FREE)
    assert event["multiValueQueryStringParameters"]["room"] == ["a", "b"]
    assert event["queryStringParameters"]["room"] == "b"
    assert event["headers"]["X-Forwarded-For"] == PEER.source_ip
    assert "Connection" not in event["headers"] and "Upgrade" not in event["headers"]  # hop-by-hop headers dropped
    context = event["requestContext"]
    assert (context["routeKey"], context["eventType"], context["connectedAt"]) == (
        "$connect",
        "CONNECT",
        PEER.connected_at,
    )


def test_connect_without_a_query_has_no_query_keys() -> None:
    event = _connect("")
    assert "queryStringParameters" not in event and "multiValueQueryStringParameters" not in event


def test_message_event_has_the_captured_shape() -> None:
    event = message_event(PEER, route_key="sendmessage", body='{"a":1}', now_ms=NOW, request_id="r")
    assert_same_shape(event, load_event("websocket_message"), free=FREE)
    assert (event["body"], event["requestContext"]["routeKey"]) == ('{"a":1}', "sendmessage")


def test_disconnect_event_has_the_captured_shape() -> None:
    event = disconnect_event(PEER, status_code=1001, reason="Going away", now_ms=NOW, request_id="r")
    assert_same_shape(event, load_event("websocket_disconnect"), free=FREE)
    context = event["requestContext"]
    assert (context["disconnectStatusCode"], context["disconnectReason"]) == (1001, "Going away")


def test_authorizer_context_reaches_later_events_but_not_the_authorizer_s_own() -> None:
    verdict = {"principalId": "user-1", "integrationLatency": 3, "room": "a"}
    message = message_event(PEER, route_key="$default", body="x", now_ms=NOW, request_id="r", authorizer=verdict)
    assert message["requestContext"]["authorizer"] == verdict
    connect = _connect()
    connect["requestContext"]["authorizer"] = verdict
    request = authorizer_event(connect, method_arn="arn:aws:execute-api:us-east-1:1:abc/dev/$connect")
    assert request["type"] == "REQUEST" and "authorizer" not in request["requestContext"]
    assert request["queryStringParameters"] == connect["queryStringParameters"]


def _http(
    method: str,
    body: bytes = b"",
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),),
    path_parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    return http_v2_event(
        route_key=f"{method} /items/{{id}}",
        method=method,
        raw_path="/items/42",
        raw_query="",
        headers=[("Host", "127.0.0.1:3105"), ("User-Agent", "curl/8"), *headers],
        body=body,
        path_parameters=path_parameters or {},
        source_ip="127.0.0.1",
        domain_name="127.0.0.1:3105",
        api_id="abc123defg",
        account_id="123456789012",
        now_ms=NOW,
        request_id="r",
    )


def test_http_get_event_has_the_captured_shape() -> None:
    event = _http("GET", headers=(("Cookie", "a=1; b=2"),))
    assert event.pop("cookies") == ["a=1", "b=2"]  # a key only when the request carries cookies
    assert_same_shape(event, load_event("http_api_v2_get"), free=HTTP_FREE)


def test_http_post_event_has_the_captured_shape() -> None:
    event = _http("POST", b'{"name":"x"}', path_parameters={"id": "42"})
    assert_same_shape(event, load_event("http_api_v2_post"), free=HTTP_FREE)
    assert (event["body"], event["isBase64Encoded"], event["pathParameters"]) == ('{"name":"x"}', False, {"id": "42"})


@pytest.mark.parametrize(
    ("body", "content_type"), [(b"\x00\xff", "application/octet-stream"), (b"\xff\xfe", "text/plain")]
)
def test_an_http_body_that_is_not_text_arrives_base64_encoded(body: bytes, content_type: str) -> None:
    event = _http("POST", body, (("Content-Type", content_type),))
    assert event["isBase64Encoded"] is True and event["body"] == base64.b64encode(body).decode()


def test_rest_event_has_the_captured_shape() -> None:
    event = rest_v1_event(
        resource="/items/{id}",
        method="GET",
        path="/items/42",
        stage="Prod",
        raw_query="q=1",
        headers=[("Host", "127.0.0.1:3105")],
        body=b"",
        path_parameters={"id": "42"},
        source_ip="127.0.0.1",
        user_agent="curl/8",
        domain_name="127.0.0.1:3105",
        api_id="abc123defg",
        resource_id="res123",
        account_id="123456789012",
        now_ms=NOW,
        request_id="r",
    )
    expected = load_event("rest_api_v1_get")
    assert_same_shape(event, expected, free=FREE | {"pathParameters"})
    assert event["requestContext"]["path"] == "/Prod/items/42"


def test_a_schedule_sends_the_scheduled_event_or_its_constant_input() -> None:
    event = schedule_payload(
        None, rule_arn="arn:aws:events:us-east-1:1:rule/R", region="us-east-1", account_id="1", now_ms=NOW
    )
    assert_same_shape(event, load_event("scheduled_event"))
    assert event["resources"] == ["arn:aws:events:us-east-1:1:rule/R"]
    given = schedule_payload('{"job": "sweep"}', rule_arn="a", region="us-east-1", account_id="1", now_ms=NOW)
    assert given == {"job": "sweep"}
