"""The dependency-outage errors share one base; a refusal of the HTTP layer gets its status when it is made."""

from __future__ import annotations

from connection_service.errors import (
    AuthServiceUnavailable,
    BadRequest,
    StoreUnavailable,
    Unavailable,
    UpstreamUnavailable,
    as_service_error,
    error_headers,
)


def test_every_outage_is_an_unavailable_with_its_status_and_retry_hint() -> None:
    outages = [StoreUnavailable(), AuthServiceUnavailable(), UpstreamUnavailable()]

    assert all(isinstance(error, Unavailable) for error in outages)
    assert [(e.code, e.status, e.retry_after) for e in outages] == [
        ("unavailable", 503, 1),
        ("unavailable", 503, 1),
        ("upstream_unavailable", 502, None),
    ]
    assert error_headers(StoreUnavailable()) == {"Retry-After": "1"} and error_headers(UpstreamUnavailable()) == {}


def test_a_redis_outage_maps_to_the_store_s_unavailable() -> None:
    from redis.exceptions import ConnectionError as RedisConnectionError

    assert isinstance(as_service_error(RedisConnectionError("refused")), StoreUnavailable)


def test_a_status_given_at_construction_leaves_the_class_alone() -> None:
    teapot = BadRequest("short and stout", status=418)

    assert (teapot.status, teapot.code, BadRequest.status, BadRequest("plain").status) == (418, "bad_request", 400, 400)
