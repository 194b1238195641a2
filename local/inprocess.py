"""Running Lambda handlers in the gateway's own process (``--in-process``: a debugging aid, e.g. for breakpoints).

Unlike Lambda (and the default execution environments), invocations of a function overlap in one process and
functions share the interpreter. Every invocation runs in a worker thread of a pool (the event loop never
blocks), inside a fresh ``contextvars`` context in which :mod:`local.inprocess_environ` shows the function its own
environment. Each worker thread has its own current asyncio event loop, as Lambda's runtime thread does (Mangum
calls ``asyncio.get_event_loop()``).

Module loading: each function's ``CodeUri`` directory goes on ``sys.path`` and its handler module is imported
by name, so functions sharing a code directory share modules (as one deployment package would). When functions
of *different* code directories use the same module name (AWS's sample chat app has ``onconnect/app.py`` and
``sendmessage/app.py``), each such function gets its own alias package, ``_local_fn_<LogicalId>``, whose
``__path__`` is its code directory, so the modules never collide.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib
import json
import logging
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from local import inprocess_environ
from local.ids import lambda_request_id
from local.invocation import InvocationError
from local.model import FunctionSpec
from local.runtime_client import LambdaContext

log = logging.getLogger("local.lambda")

Handler = Callable[[Any, Any], Any]


class FunctionRuntime:
    """One function: its environment, its handler once loaded (cold start), its module namespace."""

    def __init__(self, spec: FunctionSpec, env: dict[str, str], alias: str | None) -> None:
        self.spec = spec
        self.env = env
        self.alias = alias
        self.handler: Handler | None = None
        self._lock = threading.Lock()

    @property
    def module_name(self) -> str:
        module = self.spec.handler.rpartition(".")[0]
        return f"{self.alias}.{module}" if self.alias else module

    def load(self) -> Handler:
        """Import the handler (inside the function's environment context). Thread-safe, once per cold start."""
        handler = self.handler
        if handler is not None:
            return handler
        with self._lock:
            if self.handler is None:
                started = time.perf_counter()
                code_dir = str(self.spec.code_dir)
                if code_dir not in sys.path:
                    sys.path.insert(0, code_dir)
                if self.alias and self.alias not in sys.modules:
                    package = types.ModuleType(self.alias)
                    package.__path__ = [code_dir]
                    sys.modules[self.alias] = package
                module_name, _, attribute = self.spec.handler.rpartition(".")
                if not module_name:
                    raise InvocationError("Runtime.MalformedHandlerName", f"bad handler {self.spec.handler!r}")
                try:
                    module = importlib.import_module(self.module_name)
                except Exception as error:
                    raise InvocationError(
                        "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {error}"
                    ) from error
                found = getattr(module, attribute, None)
                if not callable(found):
                    raise InvocationError(
                        "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
                    )
                self.handler = found
                log.info(
                    "%s cold start: imported %s in %.1f ms",
                    self.spec.logical_id,
                    self.spec.handler,
                    (time.perf_counter() - started) * 1000,
                )
            assert self.handler is not None
            return self.handler


def _aliases(specs: Iterable[FunctionSpec]) -> dict[str, str | None]:
    """Alias package per function whose top-level module name is also used from another code directory."""
    dirs_by_top: dict[str, set[Path]] = {}
    for spec in specs:
        top = spec.handler.split(".", 1)[0]
        dirs_by_top.setdefault(top, set()).add(spec.code_dir)
    return {
        spec.logical_id: f"_local_fn_{spec.logical_id}" if len(dirs_by_top[spec.handler.split(".", 1)[0]]) > 1 else None
        for spec in specs
    }


def _thread_init() -> None:
    # A plain asyncio loop (as in Lambda's runtime), whatever loop the gateway itself runs on.
    asyncio.set_event_loop(asyncio.SelectorEventLoop())


class InProcessInvoker:
    """Invokes functions by logical id in a thread pool, with Lambda's timeout and error semantics."""

    def __init__(self, specs: dict[str, FunctionSpec], envs: dict[str, dict[str, str]], max_workers: int = 64) -> None:
        inprocess_environ.install()
        aliases = _aliases(specs.values())
        self.functions = {lid: FunctionRuntime(spec, envs[lid], aliases[lid]) for lid, spec in specs.items()}
        self.by_name = {runtime.spec.name: runtime for runtime in self.functions.values()}
        self.executor = ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="lambda", initializer=_thread_init
        )

    async def start(self) -> None:
        log.warning("functions run IN-PROCESS (--in-process): invocations share the gateway's interpreter")

    async def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    def environments(self) -> dict[str, list[dict[str, Any]]]:
        return {}

    async def settled(self) -> None:
        return  # no environments: nothing starts in the background

    def metrics(self) -> list[dict[str, Any]]:
        return []  # in-process functions print straight to the gateway's own output

    def reload(self) -> int:
        """Forget every loaded module of every function's code directory: the next invocation cold-starts."""
        dirs = tuple(str(runtime.spec.code_dir) for runtime in self.functions.values())
        aliases = tuple(runtime.alias for runtime in self.functions.values() if runtime.alias)
        dropped: list[str] = []
        for name, module in list(sys.modules.items()):
            location = getattr(module, "__file__", None) or ""
            if (name.startswith(aliases) if aliases else False) or (location and location.startswith(dirs)):
                dropped.append(name)
        for name in dropped:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()
        for runtime in self.functions.values():
            runtime.handler = None
        return len(dropped)

    async def invoke(self, logical_id: str, event: Any, timeout: float | None = None) -> Any:
        """Run the function; return its (JSON-round-tripped) result or raise :class:`InvocationError`."""
        runtime = self.functions[logical_id]
        limit = runtime.spec.timeout if timeout is None else min(timeout, runtime.spec.timeout)
        request_id = lambda_request_id()
        deadline_ms = time.time_ns() // 1_000_000 + int(limit * 1000)
        loop = asyncio.get_running_loop()
        context = contextvars.Context()
        future = loop.run_in_executor(self.executor, context.run, _call, runtime, event, request_id, deadline_ms)
        try:
            return await asyncio.wait_for(future, limit)
        except asyncio.TimeoutError:
            raise InvocationError(
                "Sandbox.Timedout", f"Task timed out after {limit:.2f} seconds", timed_out=True
            ) from None


def _call(runtime: FunctionRuntime, event: Any, request_id: str, deadline_ms: int) -> Any:
    inprocess_environ.activate(runtime.env)
    handler = runtime.load()
    try:
        result = handler(event, LambdaContext(request_id, deadline_ms, runtime.spec.arn))
    except Exception as error:
        log.error(
            "%s raised %s: %s\n%s",
            runtime.spec.logical_id,
            type(error).__name__,
            error,
            "".join(traceback.format_exception(error)).rstrip(),
        )
        raise InvocationError(type(error).__name__, str(error)) from error
    try:
        return json.loads(json.dumps(result))
    except (TypeError, ValueError) as error:
        raise InvocationError("Runtime.MarshalError", f"Unable to marshal response: {error}") from error
