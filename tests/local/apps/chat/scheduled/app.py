import json
import os
from typing import Any


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = os.environ.get("EVENT_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"function": os.environ["FUNCTION_TAG"], "event": event}) + "\n")
    return {"ok": True}
