from __future__ import annotations

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
    assert request_id_of('{"action":3,"requestId":"r9"}') == "r9"
    assert request_id_of("{broken") is None


def test_error_frames_carry_the_stable_code_and_request_id() -> None:
    frame = error_frame(StoreUnavailable(), "r1")

    assert frame == {
        "event": "error",
        "requestId": "r1",
        "data": {"code": "unavailable", "message": frame["data"]["message"]},
    }


def test_frames_are_encoded_compactly_in_utf8() -> None:
    assert encode({"event": "x", "data": {"t": "é"}}) == '{"event":"x","data":{"t":"é"}}'.encode()
