"""A pure-Python client of Lambda's Runtime API: ``python -m local.runtime_client module.handler``.

It does what ``awslambdaric`` (AWS's runtime interface client, the bootstrap of Lambda's Python images) does, for
platforms that have no wheel of it (macOS): import the handler once (init), then loop on
``GET /2018-06-01/runtime/invocation/next``, call the handler and post its result to ``…/response`` or its error to
``…/error``. Init failures go to ``/init/error`` and the process exits with status 1. Errors are shaped as Lambda
shapes them (``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``) with the same ``errorType`` names.
Logs go to stdout in Lambda's text format. Standard library only: it runs inside every execution environment.
"""

from __future__ import annotations

import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

API = "/2018-06-01/runtime"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"

Handler = Callable[[Any, Any], Any]


class LambdaContext:
    """The handler's ``context``: the attributes and method Lambda's Python runtime gives it."""

    def __init__(
        self,
        request_id: str,
        deadline_ms: int,
        function_arn: str,
        client_context: Any = None,
        identity: Any = None,
    ) -> None:
        environ = os.environ
        self.aws_request_id = request_id
        self.invoked_function_arn = function_arn
        self.function_name = environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - time.time_ns() // 1_000_000)


class Fault(Exception):
    """An error of the runtime itself (not raised by the handler), with Lambda's ``errorType``."""

    def __init__(self, error_type: str, message: str, trace: list[str] | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.trace = trace or []


def error_document(error_type: str, message: str, trace: list[str], request_id: str = "") -> dict[str, Any]:
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id, "stackTrace": trace}


def exception_document(error: BaseException, request_id: str = "") -> dict[str, Any]:
    if isinstance(error, Fault):
        return error_document(error.error_type, error.message, error.trace, request_id)
    frames = traceback.extract_tb(error.__traceback__)
    user_frames = [frame for frame in frames if frame.filename != __file__] or frames
    return error_document(type(error).__name__, str(error), traceback.format_list(user_frames), request_id)


def load_handler(name: str) -> Handler:
    """Import ``module.function`` as Lambda does; raises :class:`Fault` with Lambda's error types."""
    module_name, _, attribute = name.rpartition(".")
    if not module_name:
        raise Fault("Runtime.MalformedHandlerName", f"Bad handler '{name}': not enough values to unpack")
    if module_name.split(".")[0] in sys.builtin_module_names:
        raise Fault("Runtime.BuiltInModuleConflict", f"Cannot use built-in module {module_name} as a handler module")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise Fault("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}") from error
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        raise Fault("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {error}", trace) from error
    handler = getattr(module, attribute, None)
    if handler is None:
        raise Fault("Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'")
    return handler  # type: ignore[no-any-return]


class RuntimeApi:
    """HTTP/1.1 to the Runtime API on one kept-alive connection."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.connection = http.client.HTTPConnection(address)

    def _call(self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None) -> Any:
        self.connection.request(method, API + path, body=body, headers=headers or {})
        response = self.connection.getresponse()
        data = response.read()
        return response, data

    def next(self) -> tuple[http.client.HTTPResponse, bytes]:
        response, data = self._call("GET", "/invocation/next")
        if response.status != 200:
            raise RuntimeError(f"Runtime API /next answered {response.status}: {data[:200]!r}")
        return response, data

    def post_response(self, request_id: str, payload: bytes) -> None:
        self._call("POST", f"/invocation/{request_id}/response", payload, {"Content-Type": "application/json"})

    def post_error(self, request_id: str, document: dict[str, Any]) -> None:
        headers = {ERROR_TYPE_HEADER: document["errorType"], "Content-Type": "application/json"}
        self._call("POST", f"/invocation/{request_id}/error", json.dumps(document).encode(), headers)

    def post_init_error(self, document: dict[str, Any]) -> None:
        headers = {ERROR_TYPE_HEADER: document["errorType"], "Content-Type": "application/json"}
        self._call("POST", "/init/error", json.dumps(document).encode(), headers)


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def log_error(document: dict[str, Any]) -> None:
    """The error as Lambda's runtime prints it: one record, lines joined by carriage returns."""
    lines = [f"[ERROR] {document['errorType']}: {document['errorMessage']}", "Traceback (most recent call last):"]
    for entry in document["stackTrace"]:
        lines += entry.splitlines()
    sys.stdout.write("\r".join(lines) + "\n")
    sys.stdout.flush()


_RECORD_FIELDS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "aws_request_id"}
_LEVELS = {"TRACE": logging.DEBUG, "DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARN": logging.WARNING,
           "ERROR": logging.ERROR, "FATAL": logging.CRITICAL}  # fmt: skip


class JsonFormatter(logging.Formatter):
    """Lambda's JSON log format: timestamp, level, message, logger, requestId, then the record's own extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
            "requestId": getattr(record, "aws_request_id", None) or None,
        }
        if record.exc_info and record.exc_info[0] is not None:
            document["errorType"] = record.exc_info[0].__name__
            document["errorMessage"] = str(record.exc_info[1])
            document["stackTrace"] = traceback.format_tb(record.exc_info[2])
        document.update((k, v) for k, v in vars(record).items() if k not in _RECORD_FIELDS and k not in document)
        return json.dumps(document, default=str)


def _setup_logging() -> _RequestIdFilter:
    request_ids = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT", "").upper() == "JSON":
        handler.setFormatter(JsonFormatter())
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "INFO").upper()
        logging.getLogger().setLevel(_LEVELS.get(level, logging.INFO))
    else:
        text = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        text.converter = time.gmtime
        handler.setFormatter(text)
    handler.addFilter(request_ids)
    logging.getLogger().addHandler(handler)
    return request_ids


def _json_header(value: str | None) -> Any:
    return json.loads(value) if value else None


def run(handler_name: str, address: str) -> None:
    """Init, then serve invocations until the Runtime API goes away."""
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    api = RuntimeApi(address)
    request_ids = _setup_logging()
    try:
        handler = load_handler(handler_name)
    except Exception as error:
        document = exception_document(error)
        log_error(document)
        api.post_init_error(document)
        sys.exit(1)
    while True:
        response, body = api.next()
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        request_ids.request_id = request_id
        trace_id = response.headers.get("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        try:
            context = LambdaContext(
                request_id,
                int(response.headers["Lambda-Runtime-Deadline-Ms"]),
                response.headers.get("Lambda-Runtime-Invoked-Function-Arn", ""),
                _json_header(response.headers.get("Lambda-Runtime-Client-Context")),
                _json_header(response.headers.get("Lambda-Runtime-Cognito-Identity")),
            )
            result = handler(json.loads(body) if body else {}, context)
            try:
                payload = json.dumps(result).encode()
            except (TypeError, ValueError) as error:
                raise Fault("Runtime.MarshalError", f"Unable to marshal response: {error}") from error
        except Exception as error:
            document = exception_document(error, request_id)
            log_error(document)
            api.post_error(request_id, document)
        else:
            api.post_response(request_id, payload)


def main(argv: list[str]) -> None:
    if len(argv) < 2:
        raise SystemExit("usage: python -m local.runtime_client module.handler")
    run(argv[1], os.environ["AWS_LAMBDA_RUNTIME_API"])


if __name__ == "__main__":
    main(sys.argv)
