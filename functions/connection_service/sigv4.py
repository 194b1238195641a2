"""SigV4 for ``PostToConnection``: the path encoding, the signed ``Host``, environment credentials and the signer,
byte-identical to what botocore's ``SigV4Auth`` computes for the same request (tests hold them so)."""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


def percent_encode(value: str) -> str:
    """A path segment as botocore encodes it (``botocore.utils.percent_encode``): UTF-8, RFC 3986 unreserved kept."""
    return urllib.parse.quote(value.encode(), safe="-._~")


def remove_dot_segments(path: str) -> str:
    """RFC 3986's dot-segment removal, consecutive slashes collapsed too (``botocore.utils.normalize_url_path``)."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path[0] == "/" else ""
    last = "/" if path[-1] == "/" and kept else ""
    return first + "/".join(kept) + last


def canonical_uri(path: str) -> str:
    """SigV4's canonical URI of a request path, as botocore's SigV4Auth computes it (non-S3: encoded twice)."""
    return urllib.parse.quote(remove_dot_segments(path), safe="/~")


def host_header(origin: str) -> str:
    """The ``Host`` botocore signs for ``origin``: lower case, IPv6 in brackets, a default port left out."""
    parts = urllib.parse.urlsplit(origin)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    """Credentials that never change, shaped like botocore's (``get_frozen_credentials()``)."""

    access_key: str
    secret_key: str
    token: str | None = None

    def get_frozen_credentials(self) -> StaticCredentials:
        return self


def environment_credentials(environ: Mapping[str, str] = os.environ) -> StaticCredentials | None:
    """The credentials botocore's first provider reads (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, then
    ``AWS_SECURITY_TOKEN`` or ``AWS_SESSION_TOKEN``), as Lambda sets them for the life of an environment. None
    when incomplete or set to expire (``AWS_CREDENTIAL_EXPIRATION``): botocore's chain decides then."""
    access_key = environ.get("AWS_ACCESS_KEY_ID", "")
    secret_key = environ.get("AWS_SECRET_ACCESS_KEY", "")
    if not access_key or not secret_key or environ.get("AWS_CREDENTIAL_EXPIRATION"):
        return None
    token = environ.get("AWS_SECURITY_TOKEN") or environ.get("AWS_SESSION_TOKEN") or None
    return StaticCredentials(access_key, secret_key, token)


class SigV4Signer:
    """The SigV4 headers botocore's ``SigV4Auth`` adds to a POST without query string or other signed headers
    (tests hold them byte-identical), computed directly: the signing key is derived once per day and secret, not
    on every request. Credentials (:class:`StaticCredentials` or botocore's) are read once per request with
    ``get_frozen_credentials()``, so refreshable credentials refresh and a request never mixes the parts of two
    generations."""

    def __init__(
        self, credentials: Any, region: str, service: str, origin: str, clock: Callable[[], float] = time.time
    ) -> None:
        self._credentials = credentials
        self._scope_tail = f"/{region}/{service}/aws4_request"
        self._region = region
        self._service = service
        self._clock = clock
        self.host = host_header(origin)
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (secret, yyyymmdd, signing key)

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached_secret, cached_day, key = self._key
        if cached_secret != secret or cached_day != day:
            key = hmac.digest(f"AWS4{secret}".encode(), day.encode(), "sha256")
            for part in (self._region, self._service, "aws4_request"):
                key = hmac.digest(key, part.encode(), "sha256")
            self._key = (secret, day, key)
        return key

    def headers(self, path: str, canonical_uri: str, body: bytes) -> list[tuple[str, str]]:
        """``X-Amz-Date``, ``X-Amz-Security-Token`` (temporary credentials) and ``Authorization`` for
        ``POST path`` (already percent-encoded; ``canonical_uri`` from :func:`canonical_uri`) with ``body``."""
        credentials = self._credentials.get_frozen_credentials()
        timestamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self._clock()))
        day = timestamp[:8]
        canonical_headers = f"host:{self.host}\nx-amz-date:{timestamp}\n"
        signed_headers = "host;x-amz-date"
        if credentials.token:
            canonical_headers += f"x-amz-security-token:{' '.join(credentials.token.split())}\n"
            signed_headers += ";x-amz-security-token"
        canonical_request = "\n".join(
            (
                "POST",
                canonical_uri,
                "",
                canonical_headers,
                signed_headers,
                hashlib.sha256(body).hexdigest(),
            )
        )
        scope = day + self._scope_tail
        string_to_sign = "\n".join(
            ("AWS4-HMAC-SHA256", timestamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
        )
        signature = hmac.digest(self._signing_key(credentials.secret_key, day), string_to_sign.encode(), "sha256")
        headers = [("X-Amz-Date", timestamp)]
        if credentials.token:
            headers.append(("X-Amz-Security-Token", credentials.token))
        authorization = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature.hex()}"
        )
        headers.append(("Authorization", authorization))
        return headers
