"""The template's other resources on moto's real server: state in memory by default or kept in a file, what cannot
be backed named at startup, declared properties a bad template gets wrong reported without stopping the gateway."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from local.testing import GatewayStartError, LocalGateway
from tests.local.samples import aws

TEMPLATE = """\
Resources:
  Notes:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: notes
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Broken:
    Type: AWS::DynamoDB::Table
    Properties:
      KeySchema: [{AttributeName: id, KeyType: HASH}]
  Stream:
    Type: AWS::Kinesis::Stream
    Properties: {ShardCount: 1}
"""


@pytest.fixture
def template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return path


def _gateway(template: Path, *args: str) -> LocalGateway:
    return LocalGateway(template, env={"REDIS_URL": None}, args=["--redis", "off", "--no-tls", *args])


def _put_and_stop(template: Path, *args: str) -> None:
    with _gateway(template, *args) as gateway:
        aws(gateway, "dynamodb").put_item(TableName="notes", Item={"id": {"S": "kept"}})


def _items(template: Path, *args: str) -> list[str]:
    with _gateway(template, *args) as gateway:
        return [item["id"]["S"] for item in aws(gateway, "dynamodb").scan(TableName="notes")["Items"]]


def test_state_is_in_memory_by_default(template: Path) -> None:
    _put_and_stop(template)
    assert _items(template) == []


def test_state_file_keeps_state_across_restarts(template: Path, tmp_path: Path) -> None:
    state = tmp_path / "state.jsonl"
    _put_and_stop(template, "--aws-state", str(state))
    assert _items(template, "--aws-state", str(state)) == ["kept"]


def test_startup_lists_backed_failed_and_unemulated_resources(template: Path) -> None:
    with _gateway(template) as gateway:
        logs = gateway.logs
    assert "backed: Notes (AWS::DynamoDB::Table) notes" in logs
    assert "NOT CREATED: Broken (AWS::DynamoDB::Table):" in logs
    assert "NOT EMULATED: Stream (AWS::Kinesis::Stream) is not emulated" in logs


def test_aws_resources_off_leaves_them_unemulated(template: Path) -> None:
    with _gateway(template, "--aws-resources", "off") as gateway:
        logs = gateway.logs
    assert "AWS resources: moto" not in logs
    assert "NOT EMULATED: Notes (AWS::DynamoDB::Table) is not emulated (--aws-resources off)" in logs


def test_an_unreadable_template_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(textwrap.dedent("Resources:\n  X: {Type: AWS::SQS::Queue, Properties: {Name: /a/{b}}}\n"))
    with pytest.raises(GatewayStartError) as failed:
        _gateway(path).start()
    assert "not valid YAML" in str(failed.value)
    assert "Traceback" not in str(failed.value)
