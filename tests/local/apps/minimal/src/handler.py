import json
import os
import socket
from typing import Any
from urllib.parse import urlparse


def _redis_ping(url: str) -> str:
    parsed = urlparse(url)
    with socket.create_connection((parsed.hostname, parsed.port or 6379), timeout=2) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(16).decode().strip()


def main(event: dict[str, Any], context: Any) -> dict[str, Any]:
    body = json.loads(event["body"])
    if body["kind"] == "info":
        url = os.environ.get("REDIS_URL", "")
        return {
            "statusCode": 200,
            "body": json.dumps(
                {"redis": url, "pong": _redis_ping(url) if url else None, "name": context.function_name}
            ),
        }
    return {"statusCode": 200, "body": "pong"}
