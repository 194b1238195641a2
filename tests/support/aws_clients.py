"""What a test's boto3 clients are given to reach the local gateway's AWS endpoints: any region and keys do."""

from __future__ import annotations

from typing import TypedDict


class AwsClientArguments(TypedDict):
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


AWS_TEST_CLIENT: AwsClientArguments = {
    "region_name": "us-east-1",
    "aws_access_key_id": "test",
    "aws_secret_access_key": "test",
}
