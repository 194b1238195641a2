from typing import Any

import not_installed_anywhere  # noqa: F401  (init fails: Runtime.ImportModuleError)


def handler(event: dict[str, Any], context: Any) -> str:
    return "unreachable"
