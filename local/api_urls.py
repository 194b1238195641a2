"""The app's own API addresses: a deployed URL of one of its APIs becomes the gateway's matching local URL.

A function's variable such as ``!Sub https://${Api}.execute-api.${AWS::Region}.amazonaws.com/Prod`` resolves to
``https://{api_id}.execute-api.us-east-1.amazonaws.com/Prod`` (the local API id of that API): the function would
call AWS. Rewritten, it calls the gateway: same scheme (``https``/``wss`` on the TLS port when the gateway has
one), the served stage for the WebSocket API (whatever stage the URL names), the REST API's stage kept (its routes
answer with or without it), an HTTP API's stage dropped (its routes are served unprefixed).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from local.model import ApiAddress

_URL = re.compile(
    r"(?P<scheme>https?|wss?)://(?P<api>[a-z0-9]{10})\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?"
    r"(?P<stage>/[^/?#\s\"']*)?"
)
_SECURE = {"https": True, "wss": True, "http": False, "ws": False}
_PLAIN = {"https": "http", "wss": "ws", "http": "http", "ws": "ws"}


@dataclass(frozen=True, slots=True)
class LocalAddresses:
    plain: str
    """``HOST:PORT`` of the plain listener."""
    secure: str | None
    """``HOST:PORT`` of the TLS listener, or ``None`` without TLS."""
    websocket_stage: str


class ApiUrlRewriter:
    def __init__(self, apis: Iterable[ApiAddress], local: LocalAddresses) -> None:
        self.apis = {api.api_id: api for api in apis}
        self.local = local

    def rewrite(self, value: str) -> str:
        if ".execute-api." not in value:
            return value
        return _URL.sub(self._replace, value)

    def _replace(self, match: re.Match[str]) -> str:
        api = self.apis.get(match.group("api"))
        if api is None:
            return match.group(0)
        scheme = match.group("scheme")
        if _SECURE[scheme] and self.local.secure is not None:
            authority = self.local.secure
        else:
            scheme, authority = _PLAIN[scheme], self.local.plain
        stage = match.group("stage") or ""
        if stage and api.kind == "WEBSOCKET":
            stage = "/" + self.local.websocket_stage
        elif api.kind == "HTTP" and stage[1:] in (*api.stages, "$default"):
            stage = ""
        return f"{scheme}://{authority}{stage}"
