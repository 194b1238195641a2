import json
import os
from typing import Any

import boto3
from members import broadcast, room_members

ssm = boto3.client("ssm")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event["resource"] == "/files/{proxy+}":
        return {"statusCode": 200, "body": json.dumps({"file": event["pathParameters"]["proxy"], "event": event})}
    room = event["pathParameters"]["room"]
    if event["httpMethod"] == "GET":
        motd = ssm.get_parameter(Name=os.environ["MOTD_PARAMETER"])["Parameter"]["Value"]
        users = [member["user"] for member in room_members(room)]
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"room": room, "users": users, "motd": motd}),
        }
    # The management endpoint from a variable holding the deployed WebSocket API's URL.
    sent = broadcast(
        room, json.dumps({"room": room, "announcement": event["body"]}).encode(), os.environ["SOCKET_ENDPOINT"]
    )
    return {"statusCode": 202, "body": json.dumps({"sent": sent})}
