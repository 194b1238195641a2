"""AWS's sample shape: post the message's data to the connection ids it names (or back to the sender)."""

import json
import os
from typing import Any

import boto3

_client = None


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _client
    if _client is None:
        _client = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_API_ENDPOINT"])
    body = json.loads(event["body"])
    targets = body.get("to") or [event["requestContext"]["connectionId"]]
    results: dict[str, str] = {}
    for target in targets:
        try:
            _client.post_to_connection(ConnectionId=target, Data=json.dumps(body.get("data")).encode())
            results[target] = "ok"
        except _client.exceptions.GoneException:
            results[target] = "gone"
    _client.post_to_connection(
        ConnectionId=event["requestContext"]["connectionId"], Data=json.dumps({"results": results}).encode()
    )
    return {"statusCode": 200, "body": "sent"}
