"""Rewriting the app's own deployed API URLs to the gateway's, and the runtime announcement (pure functions)."""

from __future__ import annotations

from pathlib import Path

from local.api_urls import ApiUrlRewriter, LocalAddresses
from local.model import ApiAddress, FunctionSpec
from local.runtime_versions import runtime_mismatches

APIS = [
    ApiAddress("wsapi00001", "WEBSOCKET", "Socket", ("prod",)),
    ApiAddress("restapi001", "REST", "Rest", ("Prod",)),
    ApiAddress("httpapi001", "HTTP", "Http", ("$default", "v1")),
]


def _rewrite(value: str, secure: str | None = "127.0.0.1:3106") -> str:
    local = LocalAddresses(plain="127.0.0.1:3105", secure=secure, websocket_stage="dev")
    return ApiUrlRewriter(APIS, local).rewrite(value)


def test_websocket_urls_take_the_served_stage() -> None:
    assert _rewrite("https://wsapi00001.execute-api.eu-west-1.amazonaws.com/prod") == "https://127.0.0.1:3106/dev"
    assert _rewrite("wss://wsapi00001.execute-api.us-east-1.amazonaws.com/any") == "wss://127.0.0.1:3106/dev"
    assert _rewrite("https://wsapi00001.execute-api.us-east-1.amazonaws.com/x", None) == "http://127.0.0.1:3105/dev"


def test_rest_urls_keep_their_stage_and_http_urls_drop_theirs() -> None:
    rest = "https://restapi001.execute-api.us-east-1.amazonaws.com/Prod/items?x=1"
    assert _rewrite(rest) == "https://127.0.0.1:3106/Prod/items?x=1"
    assert _rewrite("https://httpapi001.execute-api.us-east-1.amazonaws.com/v1/a") == "https://127.0.0.1:3106/a"
    assert _rewrite("https://httpapi001.execute-api.us-east-1.amazonaws.com") == "https://127.0.0.1:3106"


def test_other_apis_and_other_text_are_left_alone() -> None:
    foreign = "https://abcdefghij.execute-api.us-east-1.amazonaws.com/prod"
    assert _rewrite(foreign) == foreign
    assert _rewrite("plain value") == "plain value"


def test_a_runtime_other_than_the_interpreter_is_announced_once_per_function() -> None:
    def spec(name: str, runtime: str) -> FunctionSpec:
        return FunctionSpec(name, name, "app.handler", Path("."), runtime, 3.0, 128, "arn")

    functions = [spec("Old", "python3.8"), spec("Same", "python3.11"), spec("Node", "nodejs20.x")]
    assert runtime_mismatches(functions, running="python3.11") == [
        "Old: template runtime python3.8, runs on this interpreter (python3.11)"
    ]
