import asyncio
import base64
import json
import os
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Lambda's runtime thread has a current event loop; Mangum relies on it.
    loop = asyncio.get_event_loop()
    assert loop is not None
    path = event["rawPath"]
    if path == "/items/plain":
        return {"plain": True, "id": event["pathParameters"]["item_id"]}
    if path == "/items/boom":
        raise RuntimeError("http exploded")
    if path == "/files/binary":
        return {
            "statusCode": 201,
            "headers": {"content-type": "application/octet-stream", "x-custom": "yes"},
            "cookies": ["a=1; Path=/", "b=2"],
            "body": base64.b64encode(b"\x00\x01\x02").decode(),
            "isBase64Encoded": True,
        }
    return {
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"event": event, "tag": os.environ["FUNCTION_TAG"]}),
    }
