"""The template's other AWS resources (tables, queues, topics, buckets, secrets, parameters): which ones a local
stand-in backs, and the names and ARNs they get, so ``!Ref``/``!GetAtt`` name the local resources.

Pure naming, no AWS client: a declared name is kept, otherwise the logical id names the resource (lower-cased where
the service demands it). ARNs are in the gateway's region and account.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

DYNAMODB_TABLE = "AWS::DynamoDB::Table"
SQS_QUEUE = "AWS::SQS::Queue"
SNS_TOPIC = "AWS::SNS::Topic"
S3_BUCKET = "AWS::S3::Bucket"
SECRET = "AWS::SecretsManager::Secret"
SSM_PARAMETER = "AWS::SSM::Parameter"

BACKED_TYPES = (DYNAMODB_TABLE, SQS_QUEUE, S3_BUCKET, SECRET, SSM_PARAMETER, SNS_TOPIC)
"""In creation order: a topic's subscriptions may name a queue."""

_NAME_PROPERTY = {
    DYNAMODB_TABLE: "TableName",
    SQS_QUEUE: "QueueName",
    SNS_TOPIC: "TopicName",
    S3_BUCKET: "BucketName",
    SECRET: "Name",
    SSM_PARAMETER: "Name",
}


@dataclass(frozen=True, slots=True)
class Physical:
    """What ``Ref`` and ``Fn::GetAtt`` give for a resource."""

    name: str
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _bucket_name(logical_id: str) -> str:
    name = re.sub(r"[^a-z0-9.-]", "-", logical_id.lower()).strip(".-")
    return (name or "bucket").ljust(3, "0")[:63]


def physical(
    logical_id: str,
    kind: str,
    properties: Mapping[str, Any],
    resolve: Callable[[Any], str],
    *,
    region: str,
    account_id: str,
    aws_endpoint: str,
) -> Physical | None:
    """The local name, ``Ref`` value and attributes of a backed resource; None for another type."""
    if kind not in _NAME_PROPERTY:
        return None
    declared = properties.get(_NAME_PROPERTY[kind])
    name = resolve(declared) if declared is not None else ""
    if kind == DYNAMODB_TABLE:
        name = name or logical_id
        arn = f"arn:aws:dynamodb:{region}:{account_id}:table/{name}"
        return Physical(name, name, {"Arn": arn, "StreamArn": f"{arn}/stream/local"})
    if kind == SQS_QUEUE:
        name = name or logical_id + (".fifo" if _is_true(properties.get("FifoQueue")) else "")
        url = f"{aws_endpoint}/{account_id}/{name}"
        arn = f"arn:aws:sqs:{region}:{account_id}:{name}"
        return Physical(name, url, {"Arn": arn, "QueueName": name, "QueueUrl": url})
    if kind == SNS_TOPIC:
        name = name or logical_id + (".fifo" if _is_true(properties.get("FifoTopic")) else "")
        arn = f"arn:aws:sns:{region}:{account_id}:{name}"
        return Physical(name, arn, {"TopicArn": arn, "TopicName": name})
    if kind == S3_BUCKET:
        name = name or _bucket_name(logical_id)
        return Physical(
            name,
            name,
            {
                "Arn": f"arn:aws:s3:::{name}",
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com",
            },
        )
    if kind == SECRET:
        name = name or logical_id
        # A partial ARN (no random suffix): GetSecretValue and friends accept it, as AWS does.
        arn = f"arn:aws:secretsmanager:{region}:{account_id}:secret:{name}"
        return Physical(name, arn, {"Id": arn})
    name = name or logical_id
    attributes = {"Type": resolve(properties.get("Type", "String")), "Value": resolve(properties.get("Value", ""))}
    return Physical(name, name, attributes)
