"""The API Gateway ``@connections`` management API, with AWS errors converted where they enter."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from .errors import ConnectionGone, DeliveryFailed
from .poster import Outcome, SignedPoster

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

    ``post`` and ``post_many`` go through a :class:`~.poster.SignedPoster` when one is given (the fan-out's hot
    path), else through the boto3 client (``concurrency`` threads), which always serves ``get`` and ``delete``."""

    def __init__(self, client: Any, poster: SignedPoster | None = None, concurrency: int = 10) -> None:
        self._client = client
        self._poster = poster
        self._threads = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="post")  # threads start on use

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

                client = Session().client("apigatewaymanagementapi", config=config)
                return cls(client, concurrency=settings.fanout_concurrency)
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
                poster = SignedPoster(endpoint, credentials, region, settings.fanout_concurrency)
        return cls(client, poster, settings.fanout_concurrency)

    def post(self, connection_id: str, data: bytes) -> None:
        if self._poster is not None:
            self._poster.post(connection_id, data)
        else:
            self._call("post_to_connection", ConnectionId=connection_id, Data=data)

    def post_many(self, connection_ids: Sequence[str], data: bytes) -> list[Outcome]:
        """Post ``data`` to each connection; the outcome of each, in order (``None``: delivered)."""
        if self._poster is not None:
            return self._poster.post_many(connection_ids, data)
        return list(self._threads.map(lambda connection_id: self._outcome(connection_id, data), connection_ids))

    def _outcome(self, connection_id: str, data: bytes) -> Outcome:
        try:
            self.post(connection_id, data)
        except (ConnectionGone, DeliveryFailed) as exc:
            return exc
        return None

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
