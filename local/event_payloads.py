"""Event payloads in the exact shapes API Gateway and EventBridge send (see ``tests/events/*.json``).

Pure functions of their inputs: no I/O, no clock reads except where a time is passed in.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from local.clock import clf_time, event_time
from local.ids import gateway_id, trace_id

# Headers API Gateway does not pass on in a CONNECT event (hop-by-hop handshake headers).
_DROPPED_CONNECT_HEADERS = frozenset({"connection", "upgrade"})


class Peer:
    """What API Gateway knows of a client: its connection's identity and where it connected."""

    __slots__ = ("api_id", "connected_at", "connection_id", "domain_name", "source_ip", "stage", "user_agent")

    def __init__(
        self,
        *,
        connection_id: str,
        connected_at: int,
        source_ip: str,
        user_agent: str,
        domain_name: str,
        stage: str,
        api_id: str,
    ) -> None:
        self.connection_id = connection_id
        self.connected_at = connected_at
        self.source_ip = source_ip
        self.user_agent = user_agent
        self.domain_name = domain_name
        self.stage = stage
        self.api_id = api_id


def _request_context(
    peer: Peer,
    *,
    route_key: str,
    event_type: str,
    now_ms: int,
    request_id: str,
    message_id: str | None = None,
    disconnect: tuple[int, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {"routeKey": route_key}
    if message_id is not None:
        context["messageId"] = message_id
    if disconnect is not None:
        context["disconnectStatusCode"] = disconnect[0]
    context["eventType"] = event_type
    context["extendedRequestId"] = request_id
    context["requestTime"] = clf_time(now_ms)
    context["messageDirection"] = "IN"
    if disconnect is not None:
        context["disconnectReason"] = disconnect[1]
    context["stage"] = peer.stage
    context["connectedAt"] = peer.connected_at
    context["requestTimeEpoch"] = now_ms
    context["identity"] = {"userAgent": peer.user_agent, "sourceIp": peer.source_ip}
    context["requestId"] = request_id
    context["domainName"] = peer.domain_name
    context["connectionId"] = peer.connection_id
    context["apiId"] = peer.api_id
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    return context


def connect_headers(
    raw_headers: Iterable[tuple[str, str]], *, source_ip: str, port: int, now_ms: int
) -> list[tuple[str, str]]:
    """The handshake's headers as API Gateway forwards them: hop-by-hop headers dropped, its own added."""
    headers = [(k, v) for k, v in raw_headers if k.lower() not in _DROPPED_CONNECT_HEADERS]
    present = {k.lower() for k, _ in headers}
    if "x-amzn-trace-id" not in present:
        headers.append(("X-Amzn-Trace-Id", trace_id(now_ms // 1000)))
    headers.append(("X-Forwarded-For", source_ip))
    headers.append(("X-Forwarded-Port", str(port)))
    headers.append(("X-Forwarded-Proto", "http"))
    return headers


def _single_and_multi(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


def connect_event(
    peer: Peer,
    *,
    headers: Iterable[tuple[str, str]],
    query_string: str,
    now_ms: int,
    request_id: str,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    single_headers, multi_headers = _single_and_multi(headers)
    event: dict[str, Any] = {"headers": single_headers, "multiValueHeaders": multi_headers}
    query = parse_qsl(query_string, keep_blank_values=True)
    if query:
        single_query, multi_query = _single_and_multi(query)
        event["queryStringParameters"] = single_query
        event["multiValueQueryStringParameters"] = multi_query
    event["requestContext"] = _request_context(
        peer,
        route_key="$connect",
        event_type="CONNECT",
        now_ms=now_ms,
        request_id=request_id,
        authorizer=authorizer,
    )
    event["isBase64Encoded"] = False
    return event


def message_event(
    peer: Peer,
    *,
    route_key: str,
    body: str,
    now_ms: int,
    request_id: str,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "requestContext": _request_context(
            peer,
            route_key=route_key,
            event_type="MESSAGE",
            now_ms=now_ms,
            request_id=request_id,
            message_id=gateway_id(),
            authorizer=authorizer,
        ),
        "body": body,
        "isBase64Encoded": False,
    }


def disconnect_event(
    peer: Peer,
    *,
    status_code: int,
    reason: str,
    now_ms: int,
    request_id: str,
    authorizer: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    headers = {"Host": peer.domain_name, "x-api-key": "", "X-Forwarded-For": "", "x-restapi": ""}
    return {
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "requestContext": _request_context(
            peer,
            route_key="$disconnect",
            event_type="DISCONNECT",
            now_ms=now_ms,
            request_id=request_id,
            disconnect=(status_code, reason),
            authorizer=authorizer,
        ),
        "isBase64Encoded": False,
    }


def authorizer_event(
    connect: Mapping[str, Any], *, method_arn: str, stage_variables: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The input of a WebSocket REQUEST authorizer, built from the CONNECT event it guards."""
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": method_arn,
        "headers": connect["headers"],
        "multiValueHeaders": connect["multiValueHeaders"],
    }
    if "queryStringParameters" in connect:
        event["queryStringParameters"] = connect["queryStringParameters"]
        event["multiValueQueryStringParameters"] = connect["multiValueQueryStringParameters"]
    event["stageVariables"] = dict(stage_variables or {})
    context = {k: v for k, v in connect["requestContext"].items() if k != "authorizer"}
    event["requestContext"] = context
    return event


_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "+json", "+xml")


def is_text_content(content_type: str) -> bool:
    lowered = content_type.lower()
    return any(marker in lowered for marker in _TEXT_TYPES) or "x-www-form-urlencoded" in lowered


def http_v2_event(
    *,
    route_key: str,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    path_parameters: Mapping[str, str],
    source_ip: str,
    domain_name: str,
    api_id: str,
    account_id: str,
    now_ms: int,
    request_id: str,
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """An HTTP API event, payload format 2.0."""
    lowered: dict[str, list[str]] = {}
    cookies: list[str] = []
    for key, value in headers:
        name = key.lower()
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        lowered.setdefault(name, []).append(value)
    joined = {name: ",".join(values) for name, values in lowered.items()}
    user_agent = joined.get("user-agent", "")
    event: dict[str, Any] = {"version": "2.0", "routeKey": route_key, "rawPath": raw_path, "rawQueryString": raw_query}
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    query = parse_qsl(raw_query, keep_blank_values=True)
    if query:
        grouped: dict[str, list[str]] = {}
        for key, value in query:
            grouped.setdefault(key, []).append(value)
        event["queryStringParameters"] = {key: ",".join(values) for key, values in grouped.items()}
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".", 1)[0].split(":", 1)[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": protocol,
            "sourceIp": source_ip,
            "userAgent": user_agent,
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": clf_time(now_ms),
        "timeEpoch": now_ms,
    }
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        if is_text_content(joined.get("content-type", "text/plain")):
            try:
                event["body"] = body.decode("utf-8")
                event["isBase64Encoded"] = False
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode("ascii")
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def scheduled_event(*, rule_arn: str, region: str, account_id: str, now_ms: int) -> dict[str, Any]:
    """EventBridge's ``Scheduled Event``."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": event_time(now_ms),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def schedule_payload(text_input: str | None, *, rule_arn: str, region: str, account_id: str, now_ms: int) -> Any:
    """What a schedule target receives: its constant ``Input`` when set, else the scheduled event."""
    if text_input is not None:
        return json.loads(text_input)
    return scheduled_event(rule_arn=rule_arn, region=region, account_id=account_id, now_ms=now_ms)


def rest_v1_event(
    *,
    resource: str,
    method: str,
    path: str,
    stage: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    path_parameters: Mapping[str, str],
    source_ip: str,
    user_agent: str,
    domain_name: str,
    api_id: str,
    resource_id: str,
    account_id: str,
    now_ms: int,
    request_id: str,
    protocol: str = "HTTP/1.1",
) -> dict[str, Any]:
    """A REST API event, payload format 1.0 (Lambda proxy integration): absent maps are ``null``, binary media
    types are off (the body is text)."""
    single_headers, multi_headers = _single_and_multi(headers)
    query = parse_qsl(raw_query, keep_blank_values=True)
    single_query, multi_query = _single_and_multi(query)
    return {
        "version": "1.0",
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "requestContext": {
            "resourceId": resource_id,
            "apiId": api_id,
            "resourcePath": resource,
            "httpMethod": method,
            "requestId": request_id,
            "accountId": account_id,
            "stage": stage,
            "identity": {
                "apiKey": None,
                "userArn": None,
                "cognitoAuthenticationType": None,
                "caller": None,
                "userAgent": user_agent,
                "user": None,
                "cognitoIdentityPoolId": None,
                "cognitoAuthenticationProvider": None,
                "sourceIp": source_ip,
                "accountId": None,
            },
            "extendedRequestId": request_id,
            "path": f"/{stage}{path}",
            "protocol": protocol,
            "domainName": domain_name,
            "requestTimeEpoch": now_ms,
            "requestTime": clf_time(now_ms),
        },
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "body": body.decode("utf-8", errors="replace") if body else None,
        "isBase64Encoded": False,
    }
