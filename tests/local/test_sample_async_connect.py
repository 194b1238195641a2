"""``$connect`` calling other functions with boto3's lambda client (RequestResponse, and Event truly
asynchronously), a SimpleTable, an SNS topic feeding an SQS queue, an S3 bucket, run unmodified."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import websockets

from local.testing import LocalGateway
from tests.local.samples import (
    ASYNC_CONNECT,
    aws,
    check_management_api,
    received,
    sample_gateway,
    table,
    tls_context,
    wait_row_deleted,
)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalGateway]:
    with sample_gateway(ASYNC_CONNECT, tmp_path_factory.mktemp("data")) as gateway:
        yield gateway


def _connection_of(gateway: LocalGateway, nickname: str) -> str:
    rows: list[dict[str, str]] = table(gateway, "ConnectionsTable").scan()["Items"]
    (connection_id,) = [row["connectionId"] for row in rows if row["nickname"] == nickname]
    return connection_id


async def test_connect_invokes_functions_and_the_chat_works(gateway: LocalGateway) -> None:
    async with websockets.connect(gateway.ws_url + "?name=alice") as alice:
        # The welcome comes from a function $connect invoked with InvocationType Event: it could only post once
        # $connect had returned (a synchronous invoke would still hold the connection in $connect).
        assert json.loads(await received(alice)) == {"welcome": "alice"}
        alice_id = _connection_of(gateway, "alice")  # the nickname came back from a RequestResponse invoke
        async with websockets.connect(gateway.wss_url + "?name=bob", ssl=tls_context(gateway)) as bob:
            assert json.loads(await received(bob)) == {"welcome": "bob"}
            bob_id = _connection_of(gateway, "bob")
            await alice.send(json.dumps({"text": "hello bob"}))
            assert json.loads(await received(bob)) == {"from": "alice", "text": "hello bob"}
            await check_management_api(gateway, bob, bob_id)
            mark = gateway.mark()
        wait_row_deleted(gateway, table(gateway, "ConnectionsTable"), {"connectionId": bob_id}, since=mark)
        transcripts = aws(gateway, "s3").list_objects_v2(Bucket="transcriptbucket")["Contents"]
        (stored,) = [aws(gateway, "s3").get_object(Bucket="transcriptbucket", Key=o["Key"]) for o in transcripts]
        assert json.loads(stored["Body"].read()) == {"from": "alice", "text": "hello bob"}
        assert alice_id != bob_id


async def test_the_welcome_is_audited_through_the_topic_to_the_queue(gateway: LocalGateway) -> None:
    sqs = aws(gateway, "sqs")
    queue_url = sqs.get_queue_url(QueueName="AuditQueue")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attributes == {"VisibilityTimeout": "45"}
    async with websockets.connect(gateway.ws_url + "?name=carol") as carol:
        assert json.loads(await received(carol)) == {"welcome": "carol"}
        carol_id = _connection_of(gateway, "carol")
    audited: set[str] = set()
    deadline = time.monotonic() + 30
    while carol_id not in audited and time.monotonic() < deadline:  # each call long-polls: no sleep
        answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
        audited |= {json.loads(json.loads(m["Body"])["Message"])["welcomed"] for m in answer.get("Messages", [])}
    assert carol_id in audited  # published to the topic, delivered to its SQS subscription


def test_the_simple_table_and_the_invocations_are_logged(gateway: LocalGateway) -> None:
    described = aws(gateway, "dynamodb").describe_table(TableName="ConnectionsTable")["Table"]
    assert described["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    assert described["AttributeDefinitions"] == [{"AttributeName": "connectionId", "AttributeType": "S"}]
    gateway.wait_for_log(r"INVOKE +NicknameFunction \(RequestResponse\) -> ok")
    gateway.wait_for_log(r"INVOKE +WelcomeFunction \(Event\) -> ok")
