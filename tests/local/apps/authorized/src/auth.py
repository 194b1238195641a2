from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    token = event["queryStringParameters"]["token"]
    if token == "unauthorized":
        raise Exception("Unauthorized")
    if token == "explode":
        raise ValueError("authorizer bug")
    effect = "Allow" if token.startswith("allow") else "Deny"
    return {
        "principalId": f"user-{token}",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
        "context": {"tenant": "t1", "client": event["headers"].get("X-Client"), "type": event["type"]},
    }
