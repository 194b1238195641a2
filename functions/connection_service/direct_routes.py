"""The broadcast routes of the internal HTTP API, answered without the web framework.

A broadcast is the API's hot path: under load the broadcast function answers little else, and FastAPI's
per-request machinery (routing, dependency resolution, the ASGI cycle through Mangum) cost about as much as the
broadcast itself. An HTTP API event (payload 2.0) for one of the three ``POST /broadcast...`` routes is answered
here when it is plain: the right service key, a JSON body that validates against the route's model, an ordinary
id in the path. Anything else (no key or a wrong one, a body that does not validate, an unusual path, another
route, a REST API event) gets ``None`` and goes to the FastAPI app, which answers it in full. This path never has
to get an edge case right; it only recognises the common case, and answers it as the app would, byte for byte
(the tests hold the two to the same answers).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from .broadcast_models import BroadcastAnswer, BroadcastBody, ConversationBroadcastBody, TenantBroadcastBody
from .errors import error_body, error_headers
from .limits import MAX_ID_LENGTH
from .observe import refused
from .shared_types import Broadcast

if TYPE_CHECKING:
    from .wiring import Runtime

_PLAIN_ID = re.compile(rf"[A-Za-z0-9._~:@!$&'()*+,;=-]{{1,{MAX_ID_LENGTH}}}")


def _to_everyone(body: BroadcastBody, path_id: str) -> Broadcast:
    return Broadcast(body.event, body.tenantId, body.data, body.conversationId, body.eventId)


def _to_tenant(body: TenantBroadcastBody, path_id: str) -> Broadcast:
    return Broadcast(body.event, path_id, body.data, None, body.eventId)


def _to_conversation(body: ConversationBroadcastBody, path_id: str) -> Broadcast:
    return Broadcast(body.event, body.tenantId, body.data, path_id, body.eventId)


# route key -> (path parameter, body model, the request it makes)
ROUTES: dict[str, tuple[str | None, type[BaseModel], Callable[[Any, str], Broadcast]]] = {
    "POST /broadcast/": (None, BroadcastBody, _to_everyone),
    "POST /broadcast/tenant/{tenant_id}": ("tenant_id", TenantBroadcastBody, _to_tenant),
    "POST /broadcast/conversation/{conversation_id}": ("conversation_id", ConversationBroadcastBody, _to_conversation),
}


def answer(event: Mapping[str, Any], runtime: Runtime) -> dict[str, Any] | None:
    """The API Gateway response to a plain broadcast request, or ``None`` when the event is not one."""
    request = _plain_request(event, runtime)
    if request is None:
        return None
    try:
        result = runtime.broadcaster.broadcast(request)
    except Exception as exc:
        error = refused(exc, lambda: runtime.metrics)
        return _response(error.status, error_body(error), error_headers(error))
    return _response(202, BroadcastAnswer(**result.as_dict()).model_dump())


def _plain_request(event: Mapping[str, Any], runtime: Runtime) -> Broadcast | None:
    route = ROUTES.get(event.get("routeKey", "")) if event.get("version") == "2.0" else None
    headers = event.get("headers") or {}
    if route is None or event.get("isBase64Encoded") or not _is_json(headers.get("content-type", "")):
        return None
    parameter, model, make = route
    path_id = ""
    if parameter is not None:
        path_id = (event.get("pathParameters") or {}).get(parameter, "")
        if not _PLAIN_ID.fullmatch(path_id) or event.get("rawPath", "").rsplit("/", 1)[-1] != path_id:
            return None
    key = runtime.internal_service_key.value()
    given = headers.get("x-internal-service-key", "")
    if not (key and hmac.compare_digest(given.encode(), key.encode())):
        return None  # the app answers 401 (after re-reading a rotated key)
    try:
        body = model.model_validate_json(event.get("body") or "")
    except ValidationError:
        return None
    return make(body, path_id)


def _is_json(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def _response(status: int, content: object, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    """As FastAPI's JSONResponse comes out of Mangum."""
    body = json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))
    out = {"content-length": str(len(body.encode())), "content-type": "application/json"}
    out.update({name.lower(): value for name, value in (headers or {}).items()})
    return {"statusCode": status, "body": body, "headers": out, "isBase64Encoded": False}
