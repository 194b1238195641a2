import json
from typing import Any

INVOCATIONS: list[dict[str, Any]] = []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    INVOCATIONS.append(event)
    if "requestContext" not in event:
        # A plain Lambda Invoke or a schedule: answer what was received.
        return {"received": event, "count": len(INVOCATIONS)}
    if event["requestContext"]["eventType"] == "CONNECT":
        return {"statusCode": 200}
    return {
        "statusCode": 200,
        "body": json.dumps(
            {"authorizer": event["requestContext"].get("authorizer"), "routeKey": event["requestContext"]["routeKey"]}
        ),
    }
