"""Where the functions send @connections calls: the API's endpoint, boto3's service endpoint variable, or
LocalStack's edge URL when running inside LocalStack — checked with the real boto3 client over HTTP. Which
credentials sign them: Lambda's, from the environment without boto3, else botocore's credential chain."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import connection_service
from connection_service import wiring
from connection_service.errors import ConnectionGone, DeliveryFailed
from connection_service.management_client import ManagementApi, management_endpoint
from connection_service.settings import Settings
from tests.support.aws_connections import ConnectionsApi
from tests.support.lambda_env import load_event

BASE = {
    "jwt_secret": "s" * 32,
    "internal_service_key": "k",
    "websocket_api_endpoint": "https://abc.execute-api.us-east-1.amazonaws.com/dev",
}


def settings(**overrides: str) -> Settings:
    return Settings(**{**BASE, **overrides})


def test_the_api_endpoint_is_used_by_default() -> None:
    assert management_endpoint(settings()) == "https://abc.execute-api.us-east-1.amazonaws.com/dev"


def test_the_service_specific_endpoint_variable_wins() -> None:
    chosen = settings(aws_endpoint_url_apigatewaymanagementapi="http://127.0.0.1:4566")

    assert management_endpoint(chosen) == "http://127.0.0.1:4566"


def test_a_global_endpoint_url_alone_does_not_redirect_outside_localstack() -> None:
    assert management_endpoint(settings(aws_endpoint_url="http://127.0.0.1:4566")).endswith("/dev")  # type: ignore[union-attr]


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
    }.items():
        monkeypatch.setenv(name, value)


@pytest.mark.usefixtures("aws_env")
def test_inside_localstack_posts_go_to_the_edge_url(connections_api: ConnectionsApi) -> None:
    edge = connections_api.endpoint.rsplit("/", 1)[0]  # LocalStack routes @connections without api id or stage
    api = ManagementApi.from_settings(settings(localstack_hostname="localhost.localstack.cloud", aws_endpoint_url=edge))

    api.post("L0SM9cOFvHcCIhw=", b'{"event":"pong"}')

    assert connections_api.frames("L0SM9cOFvHcCIhw=") == [{"event": "pong"}]


def test_the_region_lambda_sets_is_enough(monkeypatch: pytest.MonkeyPatch, connections_api: ConnectionsApi) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    api = ManagementApi.from_settings(settings(websocket_api_endpoint=connections_api.endpoint, aws_region="eu-west-1"))

    api.post("L0SM9cOFvHcCIhw=", b'{"event":"a"}')
    api.delete("L0SM9cOFvHcCIhw=")

    assert connections_api.frames("L0SM9cOFvHcCIhw=") == [{"event": "a"}]
    assert connections_api.deleted == ["L0SM9cOFvHcCIhw="]
    assert "/eu-west-1/execute-api/" in connections_api.requests[0][2]["Authorization"]


@pytest.mark.usefixtures("aws_env")
def test_without_a_signed_poster_many_posts_go_through_boto3_with_the_same_outcomes(
    connections_api: ConnectionsApi,
) -> None:
    client = boto3.client("apigatewaymanagementapi", endpoint_url=connections_api.endpoint, region_name="us-east-1")
    api = ManagementApi(client, concurrency=1)  # as inside LocalStack: its client, no poster; in order
    connections_api.gone.add("gone-connection=")
    connections_api.failures.append(403)

    outcomes = api.post_many(["refused-connection", "gone-connection=", "L0SM9cOFvHcCIhw="], b'{"event":"a"}')

    assert isinstance(outcomes[0], DeliveryFailed) and isinstance(outcomes[1], ConnectionGone) and outcomes[2] is None
    assert connections_api.frames("L0SM9cOFvHcCIhw=") == [{"event": "a"}]


CID = "L0SM9cOFvHcCIhw="
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEHkaCXVzLWVhc3QtMSJHMEUCIQ//token+="

# A cold start in a fresh interpreter: connect, then a hello that resumes from the log, whose frames are posted (a
# reply of one frame would ride the route's response). Neither boto3 nor the fan-out (with its event catalog) is
# imported for that. The script's own line comes last, after the functions' metrics.
COLD_START = """
import json, sys
from connection_service import connect, disconnect, message
heavy = ("boto3", "botocore", "connection_service.fanout")
imported = sorted(m for m in heavy if m in sys.modules)
connect_event, message_event = json.loads(sys.argv[1])
statuses = [connect.handler(connect_event, None)["statusCode"], message.handler(message_event, None)["statusCode"]]
used = sorted(m for m in heavy if m in sys.modules)
print(json.dumps({"imported": imported, "statuses": statuses, "used": used}))
"""


def botocore_authorization(
    credentials: Credentials, region: str, url: str, headers: dict[str, str], body: bytes
) -> str:
    """The Authorization botocore computes for a POST sent with these headers (its X-Amz-Date)."""
    sent_at = datetime.datetime.strptime(headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    request = AWSRequest(method="POST", url=url, data=body)
    with mock.patch("botocore.auth.get_current_datetime", return_value=sent_at):
        SigV4Auth(credentials, "execute-api", region).add_auth(request)
    return str(request.headers["Authorization"])


@pytest.mark.usefixtures("lambda_env")
def test_in_lambda_s_environment_the_functions_post_without_boto3(
    monkeypatch: pytest.MonkeyPatch, connections_api: ConnectionsApi, token: Callable[..., str]
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    log = wiring.current().event_log
    first = log.append("tenant-a", '{"event":"call_missed","data":{}}', time.time())
    last = log.append("tenant-a", '{"event":"call_missed","data":{}}', time.time())
    while time.time() * 1000 <= int(last.id.split("-")[0]):  # events of the connection's own millisecond come live
        pass
    hello = {"action": "hello", "requestId": "h1", "data": {"lastEventId": first.id}}
    events = [
        load_event("websocket_connect", REPLACE_WITH_TOKEN=token("tenant-a", "user-1")),
        {**load_event("websocket_message"), "body": json.dumps(hello)},
    ]
    functions = str(Path(connection_service.__file__).resolve().parent.parent)

    run = subprocess.run(
        [sys.executable, "-c", COLD_START, json.dumps(events)],
        env={**os.environ, "PYTHONPATH": functions},
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    )

    assert json.loads(run.stdout.splitlines()[-1]) == {"imported": [], "statuses": [200, 200], "used": []}
    authenticated, *_ = connections_api.frames(CID)
    assert authenticated["event"] == "authenticated" and authenticated["requestId"] == "h1"
    assert [f["event"] for f in connections_api.frames(CID)[1:]] == ["call_missed", "replay_complete"]
    _, path, headers = connections_api.requests[0]
    assert headers["X-Amz-Security-Token"] == SESSION_TOKEN
    expected = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"], SESSION_TOKEN)
    url = connections_api.endpoint.rsplit("/", 1)[0] + path
    # as the functions encode frames
    body = json.dumps(authenticated, separators=(",", ":"), ensure_ascii=False).encode()
    assert headers["Authorization"] == botocore_authorization(expected, "us-east-1", url, headers, body)


@pytest.fixture
def no_environment_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials in the environment, no IMDS, no user config: botocore's chain finds only a test file."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE",
                 "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return tmp_path / "credentials"


def test_without_credentials_in_the_environment_botocore_s_chain_signs(
    no_environment_credentials: Path, connections_api: ConnectionsApi
) -> None:
    no_environment_credentials.write_text("[default]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = s\n")
    api = ManagementApi.from_settings(settings(websocket_api_endpoint=connections_api.endpoint, aws_region="eu-west-1"))

    api.post(CID, b'{"event":"a"}')

    assert connections_api.frames(CID) == [{"event": "a"}]
    authorization = connections_api.requests[0][2]["Authorization"]
    assert "Credential=AKIDFROMFILE/" in authorization and "/eu-west-1/execute-api/" in authorization


def test_credentials_that_expire_refresh_through_botocore(
    no_environment_credentials: Path, monkeypatch: pytest.MonkeyPatch, connections_api: ConnectionsApi
) -> None:
    expiry = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)  # inside botocore's window
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", expiry.isoformat())
    api = None
    for generation in ("gen1", "gen2"):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", f"ASIA{generation}")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", f"secret-{generation}")
        monkeypatch.setenv("AWS_SESSION_TOKEN", f"token-{generation}")
        api = api or ManagementApi.from_settings(
            settings(websocket_api_endpoint=connections_api.endpoint, aws_region="eu-west-1")
        )
        api.post(CID, b"{}")

    signed = [(headers["Authorization"], headers["X-Amz-Security-Token"]) for _, _, headers in connections_api.requests]
    assert [("Credential=ASIAgen1/" in a, t) for a, t in signed] == [(True, "token-gen1"), (False, "token-gen2")]
    assert "Credential=ASIAgen2/" in signed[1][0]
