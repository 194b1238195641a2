"""Text that came from a request or a function, made safe for one log line: control characters (CR, LF, ESC and
the rest) escaped, so it can neither forge a line nor drive the terminal, and its length bounded."""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")  # tabs stay: they cannot forge a line


def printable(text: object, limit: int = 500) -> str:
    value = _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), str(text))
    return value if len(value) <= limit else value[:limit] + "…"
