from typing import Any


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"nickname": event["query"].get("name") or "guest-" + event["connectionId"][:4]}
