"""The API Gateway ``@connections`` management API, with AWS errors converted where they enter.

boto3 is imported only when needed: in Lambda the credentials and region are in the environment, so the signed
poster serves every post without it, and its client is made on the first ``get`` or ``delete``.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from .errors import ConnectionGone, DeliveryFailed
from .http1_connection import CONNECT_TIMEOUT_S, READ_TIMEOUT_S
from .shared_types import Outcome
from .signed_posts import MAX_ATTEMPTS, SignedPoster
from .sigv4 import environment_credentials

if TYPE_CHECKING:
    from .settings import Settings


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

    ``post`` and ``post_many`` go through a :class:`~.signed_posts.SignedPoster` when one is given (the fan-out's hot
    path), else through the boto3 client (``concurrency`` threads), which always serves ``get`` and ``delete``.
    Without ``client``, ``make_client`` makes it on first use."""

    def __init__(
        self,
        client: Any = None,
        poster: SignedPoster | None = None,
        concurrency: int = 10,
        *,
        make_client: Callable[[], Any] | None = None,
    ) -> None:
        self._client_made = client
        self._make_client = make_client
        self._client_lock = threading.Lock()
        self._poster = poster
        self._threads = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="post")  # threads start on use

    @classmethod
    def from_settings(cls, settings: Settings) -> ManagementApi:
        endpoint = management_endpoint(settings)
        credentials = environment_credentials()
        if endpoint and credentials is not None and settings.aws_region and not settings.localstack_hostname:
            return cls(
                None,
                SignedPoster(endpoint, credentials, settings.aws_region, settings.fanout_concurrency),
                settings.fanout_concurrency,
                make_client=functools.partial(boto3_client, settings, endpoint),
            )
        if settings.localstack_hostname:
            try:  # inside LocalStack: its client factory knows the edge endpoint
                from localstack_client.session import Session

                client = Session().client("apigatewaymanagementapi", config=boto3_config(settings))
                return cls(client, concurrency=settings.fanout_concurrency)
            except ImportError:
                pass
        import boto3  # botocore's credential chain and configuration decide

        client = boto3_client(settings, endpoint)
        poster = None
        if endpoint:
            session = boto3.DEFAULT_SESSION or boto3.Session()
            chain_credentials = session.get_credentials()
            region = settings.aws_region or session.region_name or client.meta.region_name
            if chain_credentials is not None and region:
                poster = SignedPoster(endpoint, chain_credentials, region, settings.fanout_concurrency)
        return cls(client, poster, settings.fanout_concurrency)

    @property
    def _client(self) -> Any:
        if self._client_made is None and self._make_client is not None:
            with self._client_lock:  # making boto3 clients is not thread-safe
                if self._client_made is None:
                    self._client_made = self._make_client()
        return self._client_made

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
        from botocore.exceptions import BotoCoreError, ClientError

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


def boto3_config(settings: Settings) -> Any:
    from botocore.config import Config

    return Config(
        retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
        max_pool_connections=max(10, settings.fanout_concurrency),
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        tcp_keepalive=True,
    )


def boto3_client(settings: Settings, endpoint: str | None) -> Any:
    import boto3

    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint,
        region_name=settings.aws_region or None,
        config=boto3_config(settings),
    )
