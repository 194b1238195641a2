"""The local-only surfaces (``/__local/*``, Lambda's Invoke API, ``@connections``) serve this machine's tools, never a
web page: a page a developer has open can send requests to ``127.0.0.1`` (a browser marks them with ``Origin``), and
DNS rebinding can make a hostile name resolve to it (the ``Host`` header then carries that name). Requests with an
``Origin``, or whose ``Host`` is not a loopback name or address (nor one allowed with ``--allow-host``), get 403.
boto3, the AWS CLI and curl send no ``Origin`` and name the host they were given.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable, Collection

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def host_name(host: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:3105`` → ``::1``, ``localhost:3105`` → ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class LocalOnly:
    def __init__(self, allowed_hosts: Collection[str] = ()) -> None:
        self.allowed = frozenset(host.lower() for host in allowed_hosts)
        self._verdicts: dict[str | None, bool] = {}  # by Host header: a client repeats its own on every request

    def host_allowed(self, host: str | None) -> bool:
        verdict = self._verdicts.get(host)
        if verdict is None:
            name = host_name(host or "")
            verdict = "*" in self.allowed or is_loopback(name) or name in self.allowed
            if len(self._verdicts) < 1024:  # bounded: any client may send any Host
                self._verdicts[host] = verdict
        return verdict

    def refusal(self, origin: str | None, host: str | None) -> str | None:
        """Why a request may not use a local-only surface, or None when it may."""
        if origin is not None:
            return "local-only surface: requests from web pages (with an Origin header) are refused"
        if not self.host_allowed(host):
            return "local-only surface: Host is not a loopback name (allow it with --allow-host)"
        return None

    def wrap(self, handler: Handler) -> Handler:
        async def guarded(request: web.Request) -> web.StreamResponse:
            reason = self.refusal(request.headers.get("Origin"), request.headers.get("Host"))
            if reason is not None:
                return web.Response(status=403, body=json.dumps({"message": reason}), content_type="application/json")
            return await handler(request)

        return guarded
