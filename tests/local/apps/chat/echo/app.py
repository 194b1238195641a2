import json
import os
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = json.loads(event["body"])
    if body.get("hold"):  # a slow function on demand: runs until the test writes a byte to this FIFO
        with open(body["hold"], "rb") as fifo:
            fifo.read(1)
    if body.get("raise"):
        raise ValueError("echo was asked to fail")
    env = {name: os.environ.get(name) for name in body.get("env", [])}
    reply = {
        "echo": body.get("data"),
        "event": event,
        "env": env,
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "remaining": context.get_remaining_time_in_millis(),
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
        },
        "module": __name__,
        "version": 1,
    }
    return {"statusCode": 200, "body": json.dumps(reply)}
