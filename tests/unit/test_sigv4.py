"""The fan-out's SigV4 signer adds exactly the headers botocore's SigV4Auth adds, byte for byte, and follows
credentials as they refresh; credentials read from the environment are those botocore's first provider reads."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, EnvProvider, RefreshableCredentials
from botocore.exceptions import PartialCredentialsError
from botocore.utils import normalize_url_path, percent_encode

from connection_service import sigv4
from connection_service.sigv4 import SigV4Signer, StaticCredentials, canonical_uri, environment_credentials

MOMENT = datetime.datetime(2026, 11, 26, 10, 0, 30)
ENDPOINTS = [
    "https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod",
    "https://ABCDEF1234.execute-api.eu-west-1.amazonaws.com:443/dev",  # default port left out, host lower-cased
    "http://127.0.0.1:3105/dev",  # the local gateway: port kept
    "http://localhost:4566/_aws/execute-api/x1/dev",
    "https://ws.example.com",  # custom domain, no stage path
    "http://[::1]:3105/dev",  # IPv6: in brackets
    "https://[2001:DB8::1]:443/prod",
]
CONNECTION_IDS = ["L0SM9cOFvHcCIhw=", "L0SM9cOF/vHc+Ihw=", "a b~c.d_e-f", "ünï/çødé", "..", "x/../y//z"]
CREDENTIALS = [
    Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
    Credentials("ASIAEXAMPLE", "secret", "FwoGZXIvYXdzEBYaDH//session+token=="),
    Credentials("ASIAEXAMPLE", "secret", "  token with   inner  spaces "),
]
LAMBDA_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "ASIAEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEHkaCXVzLWVhc3QtMSJHMEUCIQ//token+=",
}


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


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_credentials_from_the_environment_sign_as_botocore_s_own(botocore_now: mock.MagicMock, endpoint: str) -> None:
    ours = environment_credentials(LAMBDA_ENVIRONMENT)
    botocores = EnvProvider(environ=LAMBDA_ENVIRONMENT).load()
    assert ours is not None and botocores is not None
    origin, path = split(endpoint, CONNECTION_IDS[1])
    signer = SigV4Signer(ours, "us-east-1", "execute-api", origin, clock=lambda: epoch(MOMENT))

    assert signed(signer, path, b"{}") == botocore_headers(botocores, "us-east-1", origin + path, b"{}")


@pytest.mark.parametrize(
    "environ",
    [
        {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "secret"},
        LAMBDA_ENVIRONMENT,
        {**LAMBDA_ENVIRONMENT, "AWS_SECURITY_TOKEN": "legacy-token"},  # botocore reads this name first
        {**LAMBDA_ENVIRONMENT, "AWS_SECURITY_TOKEN": ""},
        {**LAMBDA_ENVIRONMENT, "AWS_SESSION_TOKEN": ""},
    ],
    ids=["static", "session", "legacy-token-first", "empty-legacy-token", "empty-token"],
)
def test_environment_credentials_are_those_botocore_reads(environ: dict[str, str]) -> None:
    ours = environment_credentials(environ)
    botocores = EnvProvider(environ=environ).load()

    assert ours is not None and botocores is not None
    frozen = botocores.get_frozen_credentials()
    assert frozen.access_key is not None and frozen.secret_key is not None
    assert ours.get_frozen_credentials() == StaticCredentials(frozen.access_key, frozen.secret_key, frozen.token)


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"AWS_ACCESS_KEY_ID": ""},
        {"AWS_ACCESS_KEY_ID": "AKID"},  # botocore: PartialCredentialsError
        {"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": ""},
        {**LAMBDA_ENVIRONMENT, "AWS_CREDENTIAL_EXPIRATION": "2026-11-26T11:00:00Z"},  # refreshable: botocore's
    ],
)
def test_incomplete_or_expiring_environment_credentials_are_left_to_botocore(environ: dict[str, str]) -> None:
    assert environment_credentials(environ) is None


def test_a_partial_environment_is_botocore_s_error_not_ours() -> None:
    with pytest.raises(PartialCredentialsError):
        EnvProvider(environ={"AWS_ACCESS_KEY_ID": "AKID"}).load()


@pytest.mark.parametrize(
    "path",
    ["", "/", "/dev/@connections/a", "/a/./b/../c", "//a//b//", "/..", "/a/..", "a/b/", "/a/%2F/b", "/x/../../y/."],
)
def test_paths_are_normalised_as_botocore_normalises_them(path: str) -> None:
    assert sigv4.remove_dot_segments(path) == normalize_url_path(path)


@pytest.mark.parametrize("connection_id", [*CONNECTION_IDS, "", "%41", "a\u0000b", "\U0001f600", "~!*'()"])
def test_connection_ids_are_percent_encoded_as_botocore_encodes_them(connection_id: str) -> None:
    assert sigv4.percent_encode(connection_id) == percent_encode(connection_id)
