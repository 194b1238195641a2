"""HTTP API routes from the template, payload format 2.0 events and response mapping."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from local.testing import LocalGateway
from tests.local.conftest import assert_same_shape
from tests.support.lambda_env import load_event

FREE = frozenset({"headers", "pathParameters", "queryStringParameters"})


def call(url: str, method: str = "GET", body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        return urllib.request.urlopen(request, timeout=10)
    except urllib.error.HTTPError as error:
        return error


def test_get_route_event_has_the_real_shape(chat: LocalGateway) -> None:
    answer = call(f"{chat.base_url}/items/42?x=1&x=2")
    assert answer.status == 200
    event = json.loads(answer.read())["event"]
    expected = load_event("http_api_v2_get")
    expected["pathParameters"] = {"item_id": "42"}
    expected["queryStringParameters"] = {"x": "1,2"}
    assert_same_shape(event, expected, free=FREE)
    assert event["routeKey"] == "GET /items/{item_id}"
    assert event["rawPath"] == "/items/42"
    assert event["rawQueryString"] == "x=1&x=2"
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert event["pathParameters"] == {"item_id": "42"}
    assert event["requestContext"]["http"]["method"] == "GET"
    assert event["requestContext"]["stage"] == "$default"
    assert all(key == key.lower() for key in event["headers"])


def test_post_route_event_has_the_real_shape(chat: LocalGateway) -> None:
    body = json.dumps({"event": "call_incoming", "data": {}}).encode()
    answer = call(f"{chat.base_url}/items", "POST", body, {"Content-Type": "application/json", "X-Key": "k"})
    event = json.loads(answer.read())["event"]
    expected = load_event("http_api_v2_post")
    del expected["pathParameters"]
    assert_same_shape(event, expected, free=FREE)
    assert event["routeKey"] == "POST /items"
    assert event["body"] == body.decode()
    assert event["isBase64Encoded"] is False
    assert event["headers"]["x-key"] == "k"


def test_greedy_any_route_and_full_response_mapping(chat: LocalGateway) -> None:
    answer = call(f"{chat.base_url}/files/binary", "PUT", b"\x00\xff", {"Content-Type": "application/octet-stream"})
    assert answer.status == 201
    assert answer.read() == b"\x00\x01\x02"
    assert answer.headers["x-custom"] == "yes"
    assert answer.headers.get_all("Set-Cookie") == ["a=1; Path=/", "b=2"]


def test_binary_request_body_is_base64(chat: LocalGateway) -> None:
    answer = call(f"{chat.base_url}/files/a/b", "POST", b"\x00\xff", {"Content-Type": "application/octet-stream"})
    event = json.loads(answer.read())["event"]
    assert event["isBase64Encoded"] is True
    assert event["body"] == "AP8="
    assert event["pathParameters"] == {"path": "a/b"}
    assert event["routeKey"] == "ANY /files/{path+}"


def test_plain_dict_result_becomes_200_json(chat: LocalGateway) -> None:
    answer = call(f"{chat.base_url}/items/plain")
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    assert json.loads(answer.read()) == {"plain": True, "id": "plain"}


def test_handler_exception_is_500(chat: LocalGateway) -> None:
    answer = call(f"{chat.base_url}/items/boom")
    assert answer.status == 500
    assert json.loads(answer.read()) == {"message": "Internal Server Error"}


@pytest.mark.parametrize(("method", "path"), [("GET", "/nothing"), ("DELETE", "/items/1")])
def test_unknown_route_is_404(chat: LocalGateway, method: str, path: str) -> None:
    answer = call(f"{chat.base_url}{path}", method)
    assert answer.status == 404
    assert json.loads(answer.read()) == {"message": "Not Found"}
