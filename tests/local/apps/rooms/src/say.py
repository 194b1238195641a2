import json
from typing import Any

from members import broadcast


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    text = json.loads(event["body"])["text"]
    message = json.dumps(
        {"room": request["authorizer"]["room"], "from": request["authorizer"]["principalId"], "text": text}
    )
    # As AWS's samples do: the management endpoint from the event.
    broadcast(
        request["authorizer"]["room"], message.encode(), "https://" + request["domainName"] + "/" + request["stage"]
    )
    return {"statusCode": 200}
