def handler(event, context):
    return {"nickname": event["query"].get("name") or "guest-" + event["connectionId"][:4]}
