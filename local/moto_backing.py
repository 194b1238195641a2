"""The template's tables, queues, topics, buckets, secrets and parameters, served by moto's server mode in a thread of
the gateway on a loopback port, created with their declared properties through boto3.

``moto`` is imported only when a template declares such a resource. State lives in memory; with a state file,
every request the server receives is recorded (moto's recorder) and replayed at the next start, after the
template's resources are created afresh from the template.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import string
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from local.aws_resources import (
    DYNAMODB_TABLE,
    S3_BUCKET,
    SECRET,
    SNS_TOPIC,
    SQS_QUEUE,
    SSM_PARAMETER,
)
from local.function_env import DUMMY_CREDENTIALS
from local.model import AwsResource

log = logging.getLogger("local.aws")

_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "ProvisionedThroughput", "TableClass")
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
_QUEUE_ATTRIBUTES = (
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "DelaySeconds",
    "FifoQueue",
    "FifoThroughputLimit",
    "KmsDataKeyReusePeriodSeconds",
    "KmsMasterKeyId",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "RedriveAllowPolicy",
    "RedrivePolicy",
    "SqsManagedSseEnabled",
    "VisibilityTimeout",
)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, (dict, list)) else str(value)


def _pick(props: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    return {key: props[key] for key in keys if key in props}


def _ints(value: Any) -> Any:
    """CloudFormation takes numbers as strings too; AWS APIs want numbers."""
    if isinstance(value, dict):
        return {k: _ints(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_ints(v) for v in value]
    return int(value) if isinstance(value, str) and value.isdigit() else value


def _generated_secret(spec: Mapping[str, Any]) -> str:
    """``GenerateSecretString``, as CloudFormation would fill it in."""
    alphabet = string.ascii_letters + string.digits + ("" if spec.get("ExcludePunctuation") else "!#$%&*+-.:=?@^_~")
    excluded = str(spec.get("ExcludeCharacters", ""))
    alphabet = "".join(c for c in alphabet if c not in excluded) or string.ascii_letters
    value = "".join(secrets.choice(alphabet) for _ in range(int(spec.get("PasswordLength", 32))))
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template and key:
        document = json.loads(str(template))
        document[str(key)] = value
        return json.dumps(document)
    return value


class MotoBacking:
    """moto's server on a loopback port, holding what the template declares."""

    def __init__(self, port: int, region: str, state_file: Path | None = None) -> None:
        self.port = port
        self.region = region
        self.state_file = state_file
        self.url = f"http://127.0.0.1:{port}"
        self.created: list[str] = []
        self.failed: list[str] = []
        self._server: Any = None

    def start(self) -> MotoBacking:
        if self.state_file is not None:
            os.environ["MOTO_RECORDER_FILEPATH"] = str(self.state_file)  # read by moto's recorder at import
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        # moto's own failures reach the caller as 500s; the server's tracebacks only above DEBUG would be noise
        if not log.isEnabledFor(logging.DEBUG):
            logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            with contextlib.suppress(Exception):
                self._server.stop()
            self._server = None

    def client(self, service: str) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.url,
            config=Config(retries={"total_max_attempts": 1}),
            region_name=self.region,
            aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )

    def create(self, resources: Iterable[AwsResource]) -> None:
        """Create each resource with its declared properties; one that fails is named, the others go on."""
        creators = {
            DYNAMODB_TABLE: self._table,
            SQS_QUEUE: self._queue,
            SNS_TOPIC: self._topic,
            S3_BUCKET: self._bucket,
            SECRET: self._secret,
            SSM_PARAMETER: self._parameter,
        }
        for resource in resources:
            name = resource.name
            try:
                creators[resource.type](name, resource.properties)
            except Exception as error:  # a property moto or the API refuses: say so, serve the rest
                reason = (str(error).splitlines() or [""])[0][:200]
                self.failed.append(f"{resource.logical_id} ({resource.type}): {type(error).__name__}: {reason}")
            else:
                self.created.append(f"{resource.logical_id} ({resource.type}) {name}")

    def restore(self) -> None:
        """Replay the state file's requests, then record new ones into it."""
        if self.state_file is None:
            return
        from moto.moto_api import recorder

        if self.state_file.exists():
            recorder.replay_recording(target_host=self.url)
        recorder.start_recording()

    # --- one creator per type -------------------------------------------------------------------------------

    def _table(self, name: str, props: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {"TableName": name, **_ints(_pick(props, _TABLE_KEYS))}
        if "ProvisionedThroughput" not in request:
            request.setdefault("BillingMode", "PAY_PER_REQUEST")
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if props.get(key):
                request[key] = [_ints(_pick(index, _INDEX_KEYS)) for index in props[key]]
        if props.get("Tags"):
            request["Tags"] = props["Tags"]
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(**request)
        ttl = props.get("TimeToLiveSpecification") or {}
        if ttl.get("AttributeName") and str(ttl.get("Enabled", "true")).lower() == "true":
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )

    def _queue(self, name: str, props: Mapping[str, Any]) -> None:
        attributes = {key: _text(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
        self.client("sqs").create_queue(QueueName=name, Attributes=attributes)

    def _topic(self, name: str, props: Mapping[str, Any]) -> None:
        keys = ("DisplayName", "FifoTopic", "ContentBasedDeduplication")
        attributes = {key: _text(props[key]) for key in keys if key in props}
        sns = self.client("sns")
        arn = sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        for subscription in props.get("Subscription") or []:
            sns.subscribe(TopicArn=arn, Protocol=subscription["Protocol"], Endpoint=subscription["Endpoint"])

    def _bucket(self, name: str, props: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {"Bucket": name}
        if self.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.client("s3").create_bucket(**request)

    def _secret(self, name: str, props: Mapping[str, Any]) -> None:
        request: dict[str, Any] = {"Name": name}
        if "Description" in props:
            request["Description"] = str(props["Description"])
        if "SecretString" in props:
            request["SecretString"] = str(props["SecretString"])
        else:
            request["SecretString"] = _generated_secret(props.get("GenerateSecretString") or {})
        self.client("secretsmanager").create_secret(**request)

    def _parameter(self, name: str, props: Mapping[str, Any]) -> None:
        request = {"Name": name, "Value": _text(props.get("Value", "")), "Type": str(props.get("Type", "String"))}
        if "Description" in props:
            request["Description"] = str(props["Description"])
        self.client("ssm").put_parameter(**request)
