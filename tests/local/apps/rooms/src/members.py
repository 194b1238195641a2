import os
import time
from typing import Any

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def on_connect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    table.put_item(
        Item={
            "connectionId": request["connectionId"],
            "room": request["authorizer"]["room"],
            "user": request["authorizer"]["principalId"],
            "joinedAt": int(time.time() * 1000),
        }
    )
    return {"statusCode": 200}


def on_disconnect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    table.delete_item(Key={"connectionId": event["requestContext"]["connectionId"]})
    return {"statusCode": 200}


def room_members(room: str) -> list[dict[str, Any]]:
    from boto3.dynamodb.conditions import Key

    found = table.query(IndexName=os.environ["ROOM_INDEX"], KeyConditionExpression=Key("room").eq(room))
    items: list[dict[str, Any]] = found["Items"]
    return items


def broadcast(room: str, data: bytes, endpoint: str) -> int:
    api = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    sent = 0
    for member in room_members(room):
        try:
            api.post_to_connection(ConnectionId=member["connectionId"], Data=data)
            sent += 1
        except api.exceptions.GoneException:
            table.delete_item(Key={"connectionId": member["connectionId"]})
    return sent
