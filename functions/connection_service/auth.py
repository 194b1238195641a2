"""Token verification: who is connecting, for which tenant.

:meth:`TokenVerifier.verify` raises :class:`Unauthorized` for any token it does not accept; it never
reveals why to the client (the reason goes to the log).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import jwt

from .errors import Unauthorized

if TYPE_CHECKING:
    from .config import Settings

log = logging.getLogger(__name__)

_HMAC = {"HS256", "HS384", "HS512"}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


@dataclass(frozen=True, slots=True)
class Identity:
    tenant_id: str
    user_id: str


class TokenVerifier:
    """Verifies JWTs with an explicit algorithm allow-list; the key is chosen by the algorithm's family,
    so a token can never make an HMAC check use a public key (algorithm confusion)."""

    def __init__(self, settings: Settings) -> None:
        unknown = set(settings.jwt_algorithms) - _HMAC - _ASYMMETRIC
        if unknown:
            raise ValueError(f"unsupported JWT algorithms: {sorted(unknown)}")
        self._algorithms = list(settings.jwt_algorithms)
        self._secret = settings.jwt_secret.get_secret_value()
        self._public_key = settings.jwt_public_key.replace("\\n", "\n")
        self._jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=300) if settings.jwks_url else None
        self._audience = settings.jwt_audience or None
        self._issuer = settings.jwt_issuer or None
        self._tenant_claim = settings.jwt_tenant_claim
        self._leeway = settings.jwt_leeway_s

    def verify(self, token: str | None) -> Identity:
        if not token:
            raise Unauthorized("missing token")
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if algorithm not in self._algorithms:
                raise Unauthorized(f"algorithm {algorithm!r} is not allowed")
            claims = jwt.decode(
                token,
                key=self._key_for(algorithm, token),
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "sub"], "verify_aud": self._audience is not None},
            )
        except Unauthorized:
            raise
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            log.info("token refused: %s", type(exc).__name__)
            raise Unauthorized() from exc
        return self._identity(claims)

    def _key_for(self, algorithm: str, token: str) -> Any:
        if algorithm in _HMAC:
            if not self._secret:
                raise Unauthorized("no HMAC secret configured")
            return self._secret
        if self._jwks is not None:
            return self._jwks.get_signing_key_from_jwt(token).key
        if self._public_key:
            return self._public_key
        raise Unauthorized("no public key configured")

    def _identity(self, claims: dict[str, Any]) -> Identity:
        tenant = claims.get(self._tenant_claim)
        user = claims.get("sub")
        if not isinstance(tenant, str) or not tenant or not isinstance(user, str) or not user:
            raise Unauthorized("token lacks tenant or subject")
        if "}" in tenant or "{" in tenant or len(tenant) > 128 or len(user) > 256:
            raise Unauthorized("malformed tenant or subject")
        return Identity(tenant_id=tenant, user_id=user)


def issue_token(
    secret: str, tenant_id: str, user_id: str, ttl_s: int, now: float, tenant_claim: str = "tenant_id"
) -> str:
    """An HS256 token as ts-auth-service issues them (development and tests)."""
    claims = {"sub": user_id, tenant_claim: tenant_id, "iat": int(now), "exp": int(now) + ttl_s}
    return jwt.encode(claims, secret, algorithm="HS256")
