import json
import os
import time
from typing import Any

import boto3

sns = boto3.client("sns")


def handler(event: dict[str, Any], context: Any) -> None:
    api = boto3.client("apigatewaymanagementapi", endpoint_url="https://" + event["domainName"] + "/" + event["stage"])
    message = json.dumps({"welcome": event["nickname"]}).encode()
    # What a published app must do: this function runs while $connect may not have returned yet, and API Gateway
    # offers no event for "the connection is open", so the post is retried on GoneException. This is the app's
    # behaviour under test (a synchronous invoke makes the test fail), not the test waiting.
    for _attempt in range(50):
        try:
            api.post_to_connection(ConnectionId=event["connectionId"], Data=message)
            break
        except api.exceptions.GoneException:
            time.sleep(0.1)
    else:
        raise RuntimeError("connection never opened")
    sns.publish(TopicArn=os.environ["AUDIT_TOPIC"], Message=json.dumps({"welcomed": event["connectionId"]}))
