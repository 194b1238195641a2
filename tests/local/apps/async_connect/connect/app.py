import json
import os
from typing import Any

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
lambda_client = boto3.client("lambda")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    connection_id = request["connectionId"]
    asked = lambda_client.invoke(
        FunctionName=os.environ["NICKNAME_FUNCTION"],
        Payload=json.dumps({"connectionId": connection_id, "query": event.get("queryStringParameters") or {}}),
    )
    nickname = json.loads(asked["Payload"].read())["nickname"]
    table.put_item(Item={"connectionId": connection_id, "nickname": nickname})
    # Welcomed once connected: the client may only receive messages after $connect has returned.
    lambda_client.invoke(
        FunctionName=os.environ["WELCOME_FUNCTION"],
        InvocationType="Event",
        Payload=json.dumps(
            {
                "connectionId": connection_id,
                "nickname": nickname,
                "domainName": request["domainName"],
                "stage": request["stage"],
            }
        ),
    )
    return {"statusCode": 200}
