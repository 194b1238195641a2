import json
import os
from typing import Any

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
s3 = boto3.client("s3")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    if request["eventType"] == "DISCONNECT":
        table.delete_item(Key={"connectionId": request["connectionId"]})
        return {"statusCode": 200}
    sender = table.get_item(Key={"connectionId": request["connectionId"]})["Item"]["nickname"]
    text = json.dumps({"from": sender, "text": json.loads(event["body"])["text"]})
    s3.put_object(Bucket=os.environ["TRANSCRIPTS"], Key=request["messageId"], Body=text.encode())
    api = boto3.client(
        "apigatewaymanagementapi", endpoint_url="https://" + request["domainName"] + "/" + request["stage"]
    )
    for item in table.scan()["Items"]:
        if item["connectionId"] != request["connectionId"]:
            api.post_to_connection(ConnectionId=item["connectionId"], Data=text.encode())
    return {"statusCode": 200}
