import json
import os
from typing import Any

import boto3


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = event.get("body") or ""
    if body == "boom":
        raise RuntimeError("default route exploded")
    client = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_API_ENDPOINT"])
    reply = {"default": body, "routeKey": event["requestContext"]["routeKey"], "greeting": os.environ["GREETING"]}
    client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=json.dumps(reply).encode())
    # A returned body on a one-way route must not reach the client.
    return {"statusCode": 200, "body": "should-not-be-delivered"}
