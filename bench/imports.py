"""Scenario 4: cold import of each handler module in a fresh interpreter (median of runs; -X importtime)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys

from .common import ROOT, Outcome, Row

TARGET_MS = 150.0
HANDLERS = ("connect", "disconnect", "message", "broadcast")
TARGETED = {"connect", "disconnect", "message"}  # the cold-start target (the internal API is not)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "functions"), env.get("PYTHONPATH", "")) if p)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault("AWS_SAM_LOCAL", "true")  # a handler module validates its settings as it is imported
    return env


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, *args], env=_env(), cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    )


def import_ms(module: str) -> float:
    """Milliseconds to import ``module`` in a fresh interpreter, interpreter start-up excluded."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(_run(["-c", code]).stdout.strip()) * 1000


def importtime(module: str) -> tuple[float, list[tuple[str, float]]]:
    """``-X importtime``: total ms of what the import adds to start-up, and the heaviest modules (self ms)."""
    startup = {line.rsplit("|", 1)[1].strip() for line in _run(["-X", "importtime", "-c", "pass"]).stderr.splitlines()}
    total = 0.0
    heaviest: list[tuple[str, float]] = []
    for line in _run(["-X", "importtime", "-c", f"import {module}"]).stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        if name.strip() in startup:
            continue
        if not name.startswith("  "):  # the space after "|" is the format's; deeper levels are indented more
            total += int(cumulative_us) / 1000
        heaviest.append((name.strip(), int(self_us) / 1000))
    heaviest.sort(key=lambda item: -item[1])
    return total, heaviest[:8]


def run(runs: int) -> Outcome:
    out = Outcome()
    for handler in HANDLERS:
        module = f"connection_service.{handler}"
        import_ms(module)  # make sure the bytecode caches exist: "cold" is a fresh process, not a fresh disk
        timings = [import_ms(module) for _ in range(runs)]
        median = statistics.median(timings)
        total, heaviest = importtime(module)
        targeted = handler in TARGETED
        out.rows.append(
            Row.check(
                "cold import",
                f"import {module} (median of {runs})",
                median,
                "ms",
                f"< {TARGET_MS:.0f} ms" if targeted else "",
                median < TARGET_MS if targeted else None,
                f"-X importtime {total:.0f} ms; heaviest: " + ", ".join(f"{n} {ms:.0f}" for n, ms in heaviest[:3]),
            )
        )
        out.details[handler] = {"runs_ms": timings, "median_ms": median, "importtime_total_ms": total,
                                "heaviest_self_ms": heaviest}  # fmt: skip
    return out
