"""Reports on the environment it runs in. ``op`` selects what to do; see tests/local/test_execution.py."""

import logging
import os
import subprocess
import sys
import threading
from typing import Any

INVOCATIONS = 0  # module state: lives as long as the execution environment


def whoami() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "invocations": INVOCATIONS,
        "tag": os.environ.get("PROBE_TAG"),
        "environ_type": type(os.environ).__name__,
    }


def from_thread(name: str) -> str | None:
    seen: dict[str, str | None] = {}
    thread = threading.Thread(target=lambda: seen.update(value=os.environ.get(name)))
    thread.start()
    thread.join()
    return seen["value"]


def from_child(name: str) -> str:
    code = f"import os; print(os.environ.get({name!r}, ''))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global INVOCATIONS
    INVOCATIONS += 1
    op = event.get("op")
    if op == "hold":  # block until the test writes a byte to the FIFO
        print(f"holding {event['fifo']} pid={os.getpid()}", flush=True)
        with open(event["fifo"], "rb") as fifo:
            fifo.read(1)
    elif op == "print":
        print(event["text"], flush=True)
    elif op == "raise":
        raise ValueError(event.get("message", "the probe was asked to fail"))
    elif op == "exit":
        print(f"exiting mid-invocation pid={os.getpid()}", flush=True)
        os._exit(3)
    elif op == "env":
        name = event["name"]
        return {**whoami(), "direct": os.environ.get(name), "thread": from_thread(name), "child": from_child(name)}
    elif op == "log":  # one record below the function's log level, one at it, with an extra field
        logger = logging.getLogger("probe")
        logger.info("an info record")
        logger.warning("a warning for %s", event["who"], extra={"route": "$probe"})
    elif op == "context":
        return {
            "function_name": context.function_name,
            "memory_limit_in_mb": str(context.memory_limit_in_mb),
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
        }
    return whoami()
