"""The service's exceptions, and the one place that maps them to statuses and error frames.

Every refusal a client or caller can act on is a :class:`ServiceError` with a stable ``code``
(the wire protocol's error codes) and an HTTP ``status``.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


class ServiceError(Exception):
    code = "internal"
    status = 500
    public_message = "internal error"

    def __init__(
        self, message: str | None = None, *, retry_after: int | None = None, status: int | None = None
    ) -> None:
        """``status``: another HTTP status than the class's (a refusal of the HTTP layer with its own status)."""
        super().__init__(message or self.public_message)
        self.message = message or self.public_message
        self.retry_after = retry_after
        if status is not None:
            self.status = status


class BadRequest(ServiceError):
    code = "bad_request"
    status = 400
    public_message = "bad request"


class UnknownAction(BadRequest):
    code = "unknown_action"
    public_message = "unknown action"


class Unauthorized(ServiceError):
    code = "unauthorized"
    status = 401
    public_message = "invalid or missing token"


class Forbidden(ServiceError):
    code = "forbidden"
    status = 403
    public_message = "forbidden"


class NotFound(ServiceError):
    code = "not_found"
    status = 404
    public_message = "not found"


class MethodNotAllowed(ServiceError):
    code = "method_not_allowed"
    status = 405
    public_message = "method not allowed"


class PayloadTooLarge(ServiceError):
    code = "payload_too_large"
    status = 413
    public_message = "payload too large"


class InvalidEvent(ServiceError):
    code = "invalid_event"
    status = 422
    public_message = "invalid event"


class RateLimited(ServiceError):
    code = "rate_limited"
    status = 429
    public_message = "rate limited"


class Unavailable(ServiceError):
    """A dependency could not give an answer (an outage, not a refusal): the caller may retry later."""

    code = "unavailable"
    status = 503
    public_message = "service temporarily unavailable"
    default_retry_after: int | None = 1

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, retry_after=self.default_retry_after)


class StoreUnavailable(Unavailable):
    """Redis cannot be reached."""


class AuthServiceUnavailable(Unavailable):
    """ts-auth-service could not give an answer: the client should retry later (503, not 401)."""

    public_message = "authentication service temporarily unavailable"


class UpstreamUnavailable(Unavailable):
    """as-call-service could not give a usable answer: the action failed upstream (502)."""

    code = "upstream_unavailable"
    status = 502
    public_message = "upstream service unavailable"
    default_retry_after = None


class ConnectionGone(ServiceError):
    """The @connections API answered 410: the connection no longer exists."""

    code = "gone"
    status = 410
    public_message = "connection gone"


class DeliveryFailed(ServiceError):
    """A @connections call failed after its retries (throttled or a gateway error)."""

    code = "delivery_failed"
    status = 502
    public_message = "delivery failed"


def error_body(error: ServiceError) -> dict[str, object]:
    """The JSON body of an HTTP error answer."""
    return {"error": {"code": error.code, "message": error.message}}


def error_headers(error: ServiceError) -> dict[str, str]:
    return {"Retry-After": str(error.retry_after)} if error.retry_after is not None else {}


def as_service_error(exc: BaseException) -> ServiceError:
    """Map any exception to a :class:`ServiceError` and log it: an unexpected one becomes ``internal`` (its
    traceback goes to the log, never to the caller), a refusal is logged by its status."""
    error = _classify(exc)
    if type(error) is ServiceError:
        log.error("unexpected error", exc_info=exc)
    elif error.status >= 500:
        log.warning("answered %s: %s", error.status, error.message)
    else:
        log.info("refused %s: %s", error.status, error.message)
    return error


def _classify(exc: BaseException) -> ServiceError:
    if isinstance(exc, ServiceError):
        return exc
    from redis.exceptions import ClusterError, RedisClusterException, TryAgainError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    # A cluster that is down, failing over, still migrating a slot after the client's retries, or whose slot map
    # the client cannot read whole (RedisClusterException, raised when it refreshes the map): retry later.
    if isinstance(exc, (RedisConnectionError, RedisTimeoutError, ClusterError, TryAgainError, RedisClusterException)):
        log.warning("Redis unavailable: %s: %s", type(exc).__name__, str(exc)[:300])
        return StoreUnavailable()
    return ServiceError()
