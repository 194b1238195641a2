"""The API Gateway ``@connections`` management API, with AWS errors converted where they enter."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import ConnectionGone, DeliveryFailed
from .poster import SignedPoster

if TYPE_CHECKING:
    from .config import Settings


def management_endpoint(settings: Settings) -> str | None:
    """Where ``@connections`` is: boto3's service-specific endpoint variable wins; inside LocalStack its edge
    URL (it routes the management API itself); else the API's own endpoint (``WEBSOCKET_API_ENDPOINT``)."""
    if settings.aws_endpoint_url_apigatewaymanagementapi:
        return settings.aws_endpoint_url_apigatewaymanagementapi
    if settings.localstack_hostname and settings.aws_endpoint_url:
        return settings.aws_endpoint_url
    return settings.websocket_api_endpoint or None


class ManagementApi:
    """``post``/``get``/``delete`` a connection. Raises :class:`ConnectionGone` for a 410 and
    :class:`DeliveryFailed` once the retries (throttling, 5xx; backoff with jitter) are spent.

    ``post`` goes through a :class:`~.poster.SignedPoster` when one is given (the fan-out's hot path), else
    through the boto3 client, which always serves ``get`` and ``delete``."""

    def __init__(self, client: Any, poster: SignedPoster | None = None) -> None:
        self._client = client
        self._poster = poster

    @classmethod
    def from_settings(cls, settings: Settings) -> ManagementApi:
        config = Config(
            retries={"mode": "standard", "max_attempts": 4},
            max_pool_connections=max(10, settings.fanout_concurrency),
            connect_timeout=2,
            read_timeout=5,
            tcp_keepalive=True,
        )
        endpoint = management_endpoint(settings)
        if settings.localstack_hostname:
            try:  # inside LocalStack: its client factory knows the edge endpoint
                from localstack_client.session import Session

                return cls(Session().client("apigatewaymanagementapi", config=config))
            except ImportError:
                pass
        client = boto3.client(
            "apigatewaymanagementapi", endpoint_url=endpoint, region_name=settings.aws_region or None, config=config
        )
        poster = None
        if endpoint:
            session = boto3.DEFAULT_SESSION or boto3.Session()
            credentials = session.get_credentials()
            region = settings.aws_region or session.region_name or client.meta.region_name
            if credentials is not None and region:
                poster = SignedPoster(endpoint, credentials, region, max(10, settings.fanout_concurrency))
        return cls(client, poster)

    def post(self, connection_id: str, data: bytes) -> None:
        if self._poster is not None:
            self._poster.post(connection_id, data)
        else:
            self._call("post_to_connection", ConnectionId=connection_id, Data=data)

    def delete(self, connection_id: str) -> None:
        self._call("delete_connection", ConnectionId=connection_id)

    def get(self, connection_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("get_connection", ConnectionId=connection_id)
        return answer

    def _call(self, operation: str, **params: Any) -> Any:
        try:
            return getattr(self._client, operation)(**params)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            if code == "GoneException" or status == 410:
                raise ConnectionGone(params.get("ConnectionId")) from exc
            raise DeliveryFailed(f"{operation}: {code or status}") from exc
        except BotoCoreError as exc:
            raise DeliveryFailed(f"{operation}: {type(exc).__name__}") from exc
