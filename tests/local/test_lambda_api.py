"""Lambda's Invoke API, through boto3's real lambda client."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from local.testing import LocalGateway
from tests.local.conftest import EventLog


@pytest.fixture(scope="module")
def lambda_client(chat: LocalGateway) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=chat.base_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_request_response_invoke_returns_the_result(lambda_client: Any, event_log: EventLog) -> None:
    answer = lambda_client.invoke(FunctionName="ScheduledFunction", Payload=json.dumps({"hello": "world"}))
    assert answer["StatusCode"] == 200
    assert "FunctionError" not in answer
    assert json.loads(answer["Payload"].read()) == {"ok": True}
    assert {"function": "scheduled", "event": {"hello": "world"}} in event_log.entries("scheduled")


def test_invoke_by_arn(lambda_client: Any) -> None:
    arn = "arn:aws:lambda:us-east-1:123456789012:function:ScheduledFunction"
    answer = lambda_client.invoke(FunctionName=arn, Payload=b"{}")
    assert json.loads(answer["Payload"].read()) == {"ok": True}


def test_handler_error_is_an_unhandled_function_error(lambda_client: Any) -> None:
    answer = lambda_client.invoke(FunctionName="EchoFunction", Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "KeyError"


def test_event_invocation_is_accepted(lambda_client: Any) -> None:
    answer = lambda_client.invoke(FunctionName="ScheduledFunction", InvocationType="Event", Payload=b"{}")
    assert answer["StatusCode"] == 202


def test_unknown_function_is_resource_not_found(lambda_client: Any) -> None:
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException):
        lambda_client.invoke(FunctionName="Nope", Payload=b"{}")
