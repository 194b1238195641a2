from __future__ import annotations

import re

import pytest

from connection_service.errors import BadRequest, StoreUnavailable
from connection_service.protocol import encode, error_frame, parse_client_frame, request_id_of


def test_a_well_formed_frame_is_parsed() -> None:
    frame = parse_client_frame('{"action":"ping","requestId":"r1","data":{"a":1}}')

    assert (frame.action, frame.request_id, frame.data) == ("ping", "r1", {"a": 1})


def test_data_defaults_to_an_empty_object() -> None:
    assert parse_client_frame('{"action":"ping"}').data == {}


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "nope",
        "1",
        '"str"',
        "[]",
        "{}",
        '{"action":""}',
        '{"action":7}',
        '{"action":"x","data":[1]}',
        '{"action":"x","requestId":5}',
        '{"action":"' + "a" * 65 + '"}',
        "[" * 50_000,
    ],
)
def test_malformed_frames_raise_bad_request(body: str | None) -> None:
    with pytest.raises(BadRequest):
        parse_client_frame(body)


def test_the_request_id_is_recovered_from_a_frame_that_is_otherwise_invalid() -> None:
    assert request_id_of('{"action":3,"requestId":"r9"}') == (True, "r9")
    assert request_id_of('{"action":"ping","requestId":"r9","data":{"x":NaN}}') == (True, "r9")
    assert request_id_of("{broken") == (False, None)
    assert request_id_of('{"action":"ping"}') == (False, None)


@pytest.mark.parametrize("request_id", ['"\\ud800"', '"a\\udc00"', "5", "[]", '"' + "r" * 129 + '"'])
def test_a_request_id_that_cannot_be_echoed_is_held_but_not_returned(request_id: str) -> None:
    body = '{"action":"ping","requestId":' + request_id + "}"

    assert request_id_of(body) == (True, None)
    with pytest.raises(BadRequest, match="requestId"):
        parse_client_frame(body)


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"action":"ping","data":{"x":NaN}}', "data.x: NaN"),
        ('{"action":"ping","data":{"x":[1,Infinity]}}', "data.x[1]: Infinity"),
        ('{"action":"ping","data":{"x":{"y":-Infinity}}}', "data.x.y: -Infinity"),
        ('{"action":"ping","data":{"x":1e999}}', "data.x: Infinity"),
        ('{"action":"ping","data":{"x":"\\ud800"}}', "data.x: not valid Unicode"),
        ('{"action":"ping","data":{"\\udfff":1}}', "data: a key is not valid Unicode"),
        ('{"action":"\\ud800"}', "action: not valid Unicode"),
    ],
)
def test_a_frame_that_is_not_strict_json_is_refused_naming_where(body: str, where: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(where)):
        parse_client_frame(body)


def test_a_surrogate_pair_is_valid_unicode() -> None:
    assert parse_client_frame('{"action":"ping","data":{"x":"\\ud83d\\ude42"}}').data == {"x": "🙂"}


def test_a_deeply_nested_frame_is_checked_without_recursion() -> None:
    body = '{"action":"ping","data":{"x":' + "[" * 900 + '"\\ud800"' + "]" * 900 + "}}"

    with pytest.raises(BadRequest, match="Unicode"):
        parse_client_frame(body)


def test_an_error_frame_can_say_the_request_id_could_not_be_echoed() -> None:
    assert error_frame(StoreUnavailable(), None, null_request_id=True)["requestId"] is None
    assert "requestId" not in error_frame(StoreUnavailable(), None)


def test_error_frames_carry_the_stable_code_and_request_id() -> None:
    frame = error_frame(StoreUnavailable(), "r1")

    assert frame == {
        "event": "error",
        "requestId": "r1",
        "data": {"code": "unavailable", "message": frame["data"]["message"]},
    }


def test_frames_are_encoded_compactly_in_utf8() -> None:
    assert encode({"event": "x", "data": {"t": "é"}}) == '{"event":"x","data":{"t":"é"}}'.encode()


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "\ud800"])
def test_a_frame_json_cannot_carry_is_never_encoded(value: object) -> None:
    with pytest.raises(ValueError):
        encode({"event": "x", "data": {"v": value}})
