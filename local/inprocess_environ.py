"""Per-function environments for functions that run in one process.

Lambda gives every function a process of its own, so each sees only its own environment variables. Here the
functions run in-process, in worker threads; :func:`install` replaces ``os.environ`` (and so ``os.getenv``)
with :class:`FunctionEnviron`, a mapping whose contents depend on a :class:`contextvars.ContextVar`: inside an
invocation (and inside a function's cold-start import) it is that function's environment; everywhere else it
is the gateway's own, real environment. Writes inside a function go to that function's environment and last
for its life, as they would in a warm Lambda sandbox.

Limits, by design: a child process a function starts inherits the gateway's real environment, not the
function's; C extensions reading ``getenv(3)`` directly see the gateway's environment too.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Any

_current: ContextVar[dict[str, str] | None] = ContextVar("local_function_environment", default=None)

# Variables of the gateway's shell that a function's environment keeps (what a runtime needs, not config).
SYSTEM_KEYS = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TMPDIR",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "PYTHONDONTWRITEBYTECODE",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


class FunctionEnviron(MutableMapping[str, str]):
    """``os.environ`` as seen by whoever is running: a function's environment, or the real one."""

    def __init__(self, real: MutableMapping[str, str]) -> None:
        self.real = real

    def _target(self) -> MutableMapping[str, str]:
        env = _current.get()
        return self.real if env is None else env

    def __getitem__(self, key: str) -> str:
        return self._target()[key]

    def __setitem__(self, key: str, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"str expected, not {type(value).__name__}")
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._target()))

    def __len__(self) -> int:
        return len(self._target())

    def __contains__(self, key: object) -> bool:
        return key in self._target()

    def get(self, key: str, default: Any = None) -> Any:
        return self._target().get(key, default)

    def copy(self) -> dict[str, str]:
        return dict(self._target())

    def __repr__(self) -> str:
        return f"environ({dict(self._target())!r})"


def install() -> FunctionEnviron:
    """Replace ``os.environ`` by a :class:`FunctionEnviron` (idempotent)."""
    current = os.environ
    if isinstance(current, FunctionEnviron):
        return current
    proxy = FunctionEnviron(current)
    os.environ = proxy  # type: ignore[assignment]  # noqa: B003
    return proxy


def real_environ() -> MutableMapping[str, str]:
    current: MutableMapping[str, str] = os.environ
    return current.real if isinstance(current, FunctionEnviron) else current


def activate(env: dict[str, str]) -> None:
    """Make ``env`` the environment of the current context (call inside a fresh ``contextvars`` context)."""
    _current.set(env)


def system_subset(shell: Mapping[str, str]) -> dict[str, str]:
    return {key: shell[key] for key in SYSTEM_KEYS if key in shell}
