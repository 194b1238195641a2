import json
import os
from typing import Any

import boto3

secrets = boto3.client("secretsmanager")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    expected = json.loads(secrets.get_secret_value(SecretId=os.environ["TOKEN_SECRET"])["SecretString"])["token"]
    query = event.get("queryStringParameters") or {}
    if query.get("token") != expected:
        raise Exception("Unauthorized")
    return {
        "principalId": query.get("user", "anonymous"),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}],
        },
        "context": {"room": query.get("room", "lobby")},
    }
