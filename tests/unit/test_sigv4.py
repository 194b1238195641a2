"""The fan-out's SigV4 signer adds exactly the headers botocore's SigV4Auth adds, byte for byte, and follows
credentials as they refresh."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, RefreshableCredentials
from botocore.utils import percent_encode

from connection_service.poster import SigV4Signer, canonical_uri

MOMENT = datetime.datetime(2026, 11, 26, 10, 0, 30)
ENDPOINTS = [
    "https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod",
    "https://ABCDEF1234.execute-api.eu-west-1.amazonaws.com:443/dev",  # default port left out, host lower-cased
    "http://127.0.0.1:3105/dev",  # the local gateway: port kept
    "http://localhost:4566/_aws/execute-api/x1/dev",
    "https://ws.example.com",  # custom domain, no stage path
]
CONNECTION_IDS = ["L0SM9cOFvHcCIhw=", "L0SM9cOF/vHc+Ihw=", "a b~c.d_e-f", "ünï/çødé", "..", "x/../y//z"]
CREDENTIALS = [
    Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    Credentials("ASIAEXAMPLE", "secret", "FwoGZXIvYXdzEBYaDH//session+token=="),
    Credentials("ASIAEXAMPLE", "secret", "  token with   inner  spaces "),
]


def epoch(moment: datetime.datetime) -> float:
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


@pytest.fixture
def botocore_now() -> Iterator[mock.MagicMock]:
    with mock.patch("botocore.auth.get_current_datetime") as now:
        now.return_value = MOMENT
        yield now


def botocore_headers(credentials: Any, region: str, url: str, body: bytes) -> dict[str, str]:
    request = AWSRequest(method="POST", url=url, data=body)
    SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return dict(request.headers.items())


def split(endpoint: str, connection_id: str) -> tuple[str, str]:
    """(origin, request path) of a post, as the poster builds them."""
    scheme, _, host, *stage = endpoint.split("/", 3)
    prefix = ("/" + stage[0]).rstrip("/") if stage else ""
    return f"{scheme}//{host}", prefix + "/@connections/" + percent_encode(connection_id)


def signed(signer: SigV4Signer, path: str, body: bytes) -> dict[str, str]:
    return dict(signer.headers(path, canonical_uri(path), body))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("credentials", CREDENTIALS, ids=["static", "session", "spaced-token"])
def test_headers_are_byte_identical_to_botocore(
    botocore_now: mock.MagicMock, endpoint: str, credentials: Credentials
) -> None:
    signer = SigV4Signer(credentials, "eu-west-1", "execute-api", split(endpoint, "")[0], clock=lambda: epoch(MOMENT))
    for connection_id in CONNECTION_IDS:
        origin, path = split(endpoint, connection_id)
        for body in (b'{"event":"call_incoming","data":{"from":"+1555"}}', "ü€".encode(), b""):
            assert signed(signer, path, body) == botocore_headers(credentials, "eu-west-1", origin + path, body)


def test_the_signing_key_follows_the_date(botocore_now: mock.MagicMock) -> None:
    credentials = CREDENTIALS[1]
    origin, path = split("https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod", "L0SM9cOFvHcCIhw=")
    now = [epoch(MOMENT)]
    signer = SigV4Signer(credentials, "us-east-1", "execute-api", origin, clock=lambda: now[0])
    for moment in (datetime.datetime(2026, 11, 26, 23, 59, 59), datetime.datetime(2026, 11, 27, 0, 0, 0)):
        now[0] = epoch(moment)
        botocore_now.return_value = moment
        ours = signed(signer, path, b"{}")
        assert ours == botocore_headers(credentials, "us-east-1", origin + path, b"{}")
    assert "/20261127/us-east-1/execute-api/aws4_request" in ours["Authorization"]


def test_refreshed_credentials_are_used_as_soon_as_botocore_refreshes_them(botocore_now: mock.MagicMock) -> None:
    clock = [datetime.datetime(2026, 11, 26, 10, 0, 0, tzinfo=datetime.timezone.utc)]

    def refresh() -> dict[str, str]:
        expiry = clock[0] + datetime.timedelta(hours=1)
        return {"access_key": "ASIAgen-2", "secret_key": "secret-gen-2", "token": "token-gen-2",
                "expiry_time": expiry.isoformat()}  # fmt: skip

    expiry = clock[0] + datetime.timedelta(hours=1)
    credentials = RefreshableCredentials(
        "ASIAgen-1", "secret-gen-1", "token-gen-1", expiry, refresh, "test", time_fetcher=lambda: clock[0]
    )
    origin, path = split("https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod", "c1=")
    signer = SigV4Signer(credentials, "us-east-1", "execute-api", origin, clock=lambda: epoch(MOMENT))

    first = signed(signer, path, b"{}")
    clock[0] += datetime.timedelta(hours=2)  # past expiry: the next read refreshes
    second = signed(signer, path, b"{}")

    for headers, gen in ((first, "gen-1"), (second, "gen-2")):
        static = Credentials(f"ASIA{gen}", f"secret-{gen}", f"token-{gen}")
        assert headers == botocore_headers(static, "us-east-1", origin + path, b"{}")
