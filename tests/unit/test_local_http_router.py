"""``local.httpapi``: the HTTP API router (most specific path first, then method) and the response mapping of
payload format 2.0."""

from __future__ import annotations

import base64

import pytest

from local.httpapi import HttpRouter, map_response
from local.model import HttpRoute

ROUTES = [
    HttpRoute("GET", "/items/{id}", "GetItem", "2.0", "api"),
    HttpRoute("ANY", "/items/{proxy+}", "AnyItem", "2.0", "api"),
    HttpRoute("GET", "/items/special", "Special", "2.0", "api"),
    HttpRoute("POST", "/items", "CreateItem", "2.0", "api"),
    HttpRoute("ANY", "/items", "AnyItems", "2.0", "api"),
    HttpRoute("GET", "/users/{user}/posts/{post}", "Post", "2.0", "api"),
]


@pytest.mark.parametrize(
    ("method", "path", "function", "parameters"),
    [
        ("GET", "/items/special", "Special", {}),  # a literal path beats a parameter
        ("GET", "/items/42", "GetItem", {"id": "42"}),
        ("DELETE", "/items/42", "AnyItem", {"proxy": "42"}),  # the parameter route has no DELETE: the greedy one
        ("GET", "/items/a/b", "AnyItem", {"proxy": "a/b"}),
        ("POST", "/items", "CreateItem", {}),  # a method beats ANY
        ("GET", "/items", "AnyItems", {}),
        ("GET", "/users/u1/posts/p2", "Post", {"user": "u1", "post": "p2"}),
    ],
)
def test_the_most_specific_route_serves(method: str, path: str, function: str, parameters: dict[str, str]) -> None:
    matched = HttpRouter(ROUTES).match(method, path)
    assert matched is not None
    route, found = matched
    assert (route.function, found) == (function, parameters)


def _function(router: HttpRouter[HttpRoute], method: str, path: str) -> str | None:
    matched = router.match(method, path)
    return None if matched is None else matched[0].function


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/"), ("GET", "/users/u1/posts"), ("GET", "/items/special/"), ("DELETE", "/items/42"), ("GET", "/ITEMS")],
)
def test_without_a_greedy_or_default_route_nothing_else_matches(method: str, path: str) -> None:
    router = HttpRouter([route for route in ROUTES if "+" not in route.path and route.method != "ANY"])
    assert _function(router, method, path) is None


def test_default_catches_what_nothing_else_matches() -> None:
    router = HttpRouter([*ROUTES, HttpRoute("ANY", "$default", "Fallback", "2.0", "api")])
    assert _function(router, "GET", "/nowhere") == "Fallback"
    assert _function(router, "GET", "/items/special") == "Special"


def test_a_full_response_maps_status_headers_cookies_and_body() -> None:
    status, headers, body = map_response(
        {
            "statusCode": 201,
            "headers": {"X-One": "1"},
            "multiValueHeaders": {"X-Many": ["a", "b"]},
            "cookies": ["s=1"],
            "body": {"ok": True},
        }
    )
    assert (status, body) == (201, b'{"ok": true}')
    assert headers.getall("X-Many") == ["a", "b"] and headers["X-One"] == "1" and headers["Set-Cookie"] == "s=1"
    assert headers["Content-Type"] == "application/json"


def test_a_base64_body_is_decoded_and_an_empty_one_has_no_content_type() -> None:
    status, headers, body = map_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    )
    assert (status, body) == (200, b"\x00\x01")
    status, headers, body = map_response({"statusCode": 204})
    assert (status, body, "Content-Type" in headers) == (204, b"", False)


@pytest.mark.parametrize(("result", "body"), [({"a": 1}, b'{"a": 1}'), ("text", b"text"), (None, b"null")])
def test_any_other_result_is_200_json(result: object, body: bytes) -> None:
    status, headers, data = map_response(result)
    assert (status, data, headers["Content-Type"]) == (200, body, "application/json")
