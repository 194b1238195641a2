"""CallService against a stand-in as-call-service over real HTTP: the contract and its error conversion."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from connection_service.call_service_client import (
    MAX_RESPONSE_BYTES,
    ActingUser,
    CallService,
    idempotency_key,
    make_client,
)
from connection_service.errors import BadRequest, Forbidden, RateLimited, ServiceError, UpstreamUnavailable
from connection_service.settings import Settings
from tests.support.call_service import CallServiceStub

KEY = "unit-service-key"
ME = ActingUser("tenant-a", "user-1", "req-1")


@pytest.fixture
def stub() -> Iterator[CallServiceStub]:
    with CallServiceStub() as server:
        yield server


@pytest.fixture
def upstream(stub: CallServiceStub) -> Iterator[CallService]:
    service = CallService(httpx.Client(base_url=stub.url, timeout=1.0), KEY)
    yield service
    service.close()


def test_each_action_has_its_method_path_and_body(stub: CallServiceStub, upstream: CallService) -> None:
    upstream.takeover_conversation(ME, "conv-1")
    upstream.send_message(ME, "conv-1", "hello")
    upstream.update_lead_status(ME, "lead-1", "won")

    assert [(r.method, r.path, r.json) for r in stub.recorded()] == [
        ("POST", "/conversations/conv-1/takeover", {}),
        ("POST", "/conversations/conv-1/messages", {"body": "hello"}),
        ("PATCH", "/leads/lead-1/status", {"status": "won"}),
    ]


def test_the_caller_and_the_key_travel_in_headers_percent_encoded(stub: CallServiceStub, upstream: CallService) -> None:
    upstream.takeover_conversation(ActingUser("tenant é", "user/1", "req 1:é"), "conv-1")

    [request] = stub.recorded()
    assert request.headers["x-internal-service-key"] == KEY
    assert request.headers["x-tenant-id"] == "tenant%20%C3%A9"
    assert request.headers["x-user-id"] == "user%2F1"
    assert request.headers["idempotency-key"] == "req%201%3A%C3%A9"


def test_ordinary_ids_pass_unchanged_in_headers(stub: CallServiceStub, upstream: CallService) -> None:
    key = "3f6c1b1e-8d1a-4c55-9a53-0b9a2f7d5e10"
    upstream.takeover_conversation(ActingUser("tenant_A-1", "user.1~x", key), "conv-1")

    [request] = stub.recorded()
    assert (request.headers["x-tenant-id"], request.headers["x-user-id"]) == ("tenant_A-1", "user.1~x")
    assert request.headers["idempotency-key"] == key


def test_the_answer_is_the_parsed_json(stub: CallServiceStub, upstream: CallService) -> None:
    stub.answer("/leads/lead-1/status", 200, {"leadId": "lead-1", "history": [1, 2, 3]})

    assert upstream.update_lead_status(ME, "lead-1", "won") == {"leadId": "lead-1", "history": [1, 2, 3]}


def test_no_content_is_a_null_result(stub: CallServiceStub, upstream: CallService) -> None:
    stub.answer("/conversations/conv-1/takeover", 204)

    assert upstream.takeover_conversation(ME, "conv-1") is None


def test_an_answer_too_large_to_relay_is_a_null_result_not_a_failure(
    stub: CallServiceStub, upstream: CallService
) -> None:
    stub.answer("/conversations/conv-1/messages", 201, {"blob": "x" * MAX_RESPONSE_BYTES})

    assert upstream.send_message(ME, "conv-1", "hi") is None


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (400, {"message": "body is required"}, BadRequest, "body is required"),
        (422, {"detail": "status\tmust be  one of new, won"}, BadRequest, "status must be one of new, won"),
        (409, {"error": {"message": "already taken over"}}, BadRequest, "already taken over"),
        (409, {"error": "already taken over"}, BadRequest, "already taken over"),
        (400, {"message": "x" * 500}, BadRequest, "x" * 200),
        (400, {"message": "evil\x00text"}, BadRequest, "as-call-service refused the request (HTTP 400)"),
        (422, {"detail": [{"loc": ["body"], "msg": "field required"}]}, BadRequest, None),
        (403, {"message": "conv-1 belongs to tenant-z"}, Forbidden, "not found or not allowed"),
        (404, {"message": "conv-1 belongs to tenant-z"}, Forbidden, "not found or not allowed"),
        (429, {"message": "slow down"}, RateLimited, "slow down"),
        (401, {"message": "bad key"}, UpstreamUnavailable, None),
        (408, None, UpstreamUnavailable, None),
        (500, {"message": "stack trace at 10.0.0.3"}, UpstreamUnavailable, None),
        (502, None, UpstreamUnavailable, None),
        (503, {"message": "maintenance"}, UpstreamUnavailable, None),
        (302, None, UpstreamUnavailable, None),
    ],
)
def test_upstream_statuses_become_service_errors(
    stub: CallServiceStub,
    upstream: CallService,
    status: int,
    body: Any,
    error: type[ServiceError],
    message: str | None,
) -> None:
    stub.answer("/conversations/conv-1/takeover", status, body)

    with pytest.raises(ServiceError) as raised:
        upstream.takeover_conversation(ME, "conv-1")

    assert type(raised.value) is error
    if message is not None:
        assert raised.value.message == message
    if error is UpstreamUnavailable:
        assert raised.value.code == "upstream_unavailable"
        assert "10.0.0.3" not in raised.value.message


@pytest.mark.parametrize("raw", [b"<html>oops</html>", b'{"truncated": ', b"\xff\xfe"])
def test_a_success_that_is_not_json_is_upstream_unavailable(
    stub: CallServiceStub, upstream: CallService, raw: bytes
) -> None:
    stub.answer("/conversations/conv-1/takeover", 200, raw=raw)

    with pytest.raises(UpstreamUnavailable):
        upstream.takeover_conversation(ME, "conv-1")


def test_connection_refused_is_upstream_unavailable() -> None:
    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = CallService(httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=1.0), KEY)

    with pytest.raises(UpstreamUnavailable):
        service.takeover_conversation(ME, "conv-1")


def test_a_stopped_upstream_is_unavailable_even_over_a_kept_alive_connection(
    stub: CallServiceStub, upstream: CallService
) -> None:
    upstream.takeover_conversation(ME, "conv-1")
    stub.stop()

    with pytest.raises(UpstreamUnavailable):
        upstream.takeover_conversation(ME, "conv-1")


def test_a_slow_upstream_times_out_as_upstream_unavailable(stub: CallServiceStub) -> None:
    stub.slow = True  # released when the stub stops
    service = CallService(httpx.Client(base_url=stub.url, timeout=0.2), KEY)

    with pytest.raises(UpstreamUnavailable) as raised:
        service.update_lead_status(ME, "lead-1", "won")

    assert "in time" in raised.value.message
    assert len(stub.recorded()) == 1
    service.close()


@pytest.mark.parametrize("conversation_id", [".", ".."])
def test_dot_segment_ids_are_refused_before_any_request(
    stub: CallServiceStub, upstream: CallService, conversation_id: str
) -> None:
    with pytest.raises(BadRequest):
        upstream.takeover_conversation(ME, conversation_id)

    assert stub.recorded() == []


def test_path_ids_are_percent_encoded(stub: CallServiceStub, upstream: CallService) -> None:
    upstream.update_lead_status(ME, "lead/1?x#é %", "won")

    assert stub.recorded()[0].path == "/leads/lead%2F1%3Fx%23%C3%A9%20%25/status"


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.send_message(ME, "conv-1", "bad \ud800"),
        lambda s: s.takeover_conversation(ME, "conv-\udfff"),
        lambda s: s.takeover_conversation(ActingUser("tenant-a", "user-1", "req-\ud800"), "conv-1"),
    ],
)
def test_text_that_is_not_unicode_is_a_bad_request(stub: CallServiceStub, upstream: CallService, call: Any) -> None:
    with pytest.raises(BadRequest):
        call(upstream)

    assert stub.recorded() == []


def test_unicode_is_sent_as_utf8_json(stub: CallServiceStub, upstream: CallService) -> None:
    body = 'Grüße 👋🏽 你好 مرحبا "q" \\ \n'

    upstream.send_message(ME, "conv-1", body)

    [request] = stub.recorded()
    assert request.raw == json.dumps({"body": body}, ensure_ascii=False, separators=(",", ":")).encode()


def test_the_client_is_made_from_settings_with_the_key_url_and_timeouts(stub: CallServiceStub) -> None:
    settings = Settings(as_call_service_url=stub.url + "/", upstream_timeout_s=0.5, internal_service_key=KEY)
    client = make_client(settings)
    assert client.timeout.read == 0.5 and client.timeout.connect == 0.5
    assert client.follow_redirects is False
    client.close()
    service = CallService.from_settings(settings)

    service.takeover_conversation(ME, "conv-1")

    [request] = stub.recorded()
    assert request.path == "/conversations/conv-1/takeover"
    assert request.headers["x-internal-service-key"] == KEY
    service.close()


def test_one_client_reuses_its_connection(stub: CallServiceStub, upstream: CallService) -> None:
    for _ in range(3):
        upstream.takeover_conversation(ME, "conv-1")

    assert len(stub.recorded()) == 3
    assert len(stub.connections()) == 1


def test_the_idempotency_key_is_the_request_id_or_a_fresh_one() -> None:
    assert idempotency_key("r-1") == "r-1"
    made = {idempotency_key(None) for _ in range(100)} | {idempotency_key("")}
    assert len(made) == 101 and all(len(key) == 32 for key in made)
