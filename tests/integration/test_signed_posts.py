"""The fan-out's PostToConnection path sends what boto3 would, signed the same way, and retries like botocore's
standard mode — checked over real HTTP against a stand-in for AWS's @connections API."""

from __future__ import annotations

import datetime
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from connection_service.errors import ConnectionGone, DeliveryFailed
from connection_service.signed_posts import MAX_ATTEMPTS, SignedPoster, backoff_delay
from connection_service.sigv4 import StaticCredentials
from tests.support.aws_connections import ConnectionsApi

CID = "L0SM9cOF/vHc+Ihw="  # base64 alphabet: '/', '+' and '=' must be encoded as boto3 encodes them


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def poster(connections_api: ConnectionsApi, slept: list[float]) -> SignedPoster:
    return SignedPoster(connections_api.endpoint, Credentials("AKIDEXAMPLE", "secret"), "us-east-1", 4, slept.append)


def test_a_post_reaches_the_connection_as_boto3_would_send_it(
    poster: SignedPoster, connections_api: ConnectionsApi
) -> None:
    boto = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=connections_api.endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )
    boto.post_to_connection(ConnectionId=CID, Data=b'{"event":"a"}')
    poster.post(CID, b'{"event":"b"}')

    (_, boto_path, boto_headers), (_, path, headers) = connections_api.requests
    assert path == boto_path
    assert connections_api.frames(CID) == [{"event": "a"}, {"event": "b"}]
    scope = "/us-east-1/execute-api/aws4_request"
    for authorization in (boto_headers["Authorization"], headers["Authorization"]):
        assert authorization.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and scope in authorization
    assert headers["X-Amz-Date"] and "SignedHeaders=host;x-amz-date" in headers["Authorization"]


@pytest.mark.parametrize(
    "credentials",
    [
        Credentials("ASIAEXAMPLE", "secret", "session-token"),
        StaticCredentials("ASIAEXAMPLE", "secret", "session-token"),
    ],
    ids=["botocore", "environment"],
)
def test_a_post_carries_the_signature_botocore_computes_for_it(
    connections_api: ConnectionsApi, credentials: Credentials | StaticCredentials
) -> None:
    SignedPoster(connections_api.endpoint, credentials, "eu-west-1", 2).post(CID, b'{"event":"b"}')

    ((_, path, headers),) = connections_api.requests
    sent_at = datetime.datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    expected = AWSRequest(method="POST", url=connections_api.endpoint.rsplit("/", 1)[0] + path, data=b'{"event":"b"}')
    with mock.patch("botocore.auth.get_current_datetime", return_value=sent_at):
        SigV4Auth(Credentials("ASIAEXAMPLE", "secret", "session-token"), "execute-api", "eu-west-1").add_auth(expected)
    assert headers["Authorization"] == expected.headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "session-token"
    assert headers["Host"] == connections_api.endpoint.split("/")[2]


def test_gone_is_raised_as_connection_gone(poster: SignedPoster, connections_api: ConnectionsApi) -> None:
    connections_api.gone.add(CID)

    with pytest.raises(ConnectionGone):
        poster.post(CID, b"{}")


def test_throttling_and_server_errors_are_retried_with_backoff(
    poster: SignedPoster, connections_api: ConnectionsApi, slept: list[float]
) -> None:
    connections_api.failures.extend([429, 503, 500])

    poster.post(CID, b'{"event":"late"}')

    assert connections_api.frames(CID) == [{"event": "late"}]
    assert len(slept) == 3 and all(0 <= delay <= 2 for delay in slept)


def test_retries_are_bounded(poster: SignedPoster, connections_api: ConnectionsApi, slept: list[float]) -> None:
    connections_api.failures.extend([500] * (MAX_ATTEMPTS + 2))

    with pytest.raises(DeliveryFailed, match="500"):
        poster.post(CID, b"{}")

    assert len(slept) == MAX_ATTEMPTS - 1
    assert connections_api.frames(CID) == []


def test_other_refusals_fail_at_once(poster: SignedPoster, connections_api: ConnectionsApi, slept: list[float]) -> None:
    connections_api.failures.append(403)

    with pytest.raises(DeliveryFailed, match="403"):
        poster.post(CID, b"{}")

    assert slept == []


def test_an_unreachable_endpoint_fails_after_its_retries(slept: list[float]) -> None:
    poster = SignedPoster("http://127.0.0.1:1/dev", Credentials("a", "b"), "us-east-1", 2, slept.append)

    with pytest.raises(DeliveryFailed, match="attempts"):
        poster.post(CID, b"{}")

    assert len(slept) == MAX_ATTEMPTS - 1


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap() -> None:
    assert [backoff_delay(n, throttled=False, rand=lambda: 1.0) for n in (1, 2, 3)] == [0.05, 0.1, 0.2]
    assert backoff_delay(1, throttled=True, rand=lambda: 1.0) == 0.2
    assert backoff_delay(10, throttled=True, rand=lambda: 1.0) == 2.0
    assert backoff_delay(3, throttled=False, rand=lambda: 0.0) == 0.0
