import json
import os
from typing import Any

import boto3


def record(event: dict[str, Any], **extra: str) -> None:
    path = os.environ.get("EVENT_LOG")
    if path:
        line = {"function": os.environ["FUNCTION_TAG"], "event": event, **extra}
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    extra: dict[str, str] = {}
    if "selfpost" in query:
        client = boto3.client("apigatewaymanagementapi", endpoint_url=os.environ["WEBSOCKET_API_ENDPOINT"])
        try:
            client.post_to_connection(ConnectionId=event["requestContext"]["connectionId"], Data=b"early")
            extra["selfpost"] = "ok"
        except client.exceptions.GoneException:
            extra["selfpost"] = "GoneException"
    record(event, **extra)
    if "hold" in query:  # a slow $connect on demand: runs until the test writes a byte to this FIFO
        print(f"holding {query['hold']}", flush=True)
        with open(query["hold"], "rb") as fifo:
            fifo.read(1)
    if "boom" in query:
        raise RuntimeError("connect exploded")
    if "reject" in query:
        return {"statusCode": int(query["reject"]), "body": "refused"}
    if "protocol" in query:
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": query["protocol"]}}
    return {"statusCode": 200}
