"""Scenario ``init``: cold start of each function on its built artifact (``make package``'s build, for this machine
and Python so it can run here): a fresh interpreter with only the artifact and the standard library on its path
(``-I -S``: not the venv) imports the handler module, as Lambda's init does; median of runs, and the size."""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from infra.package import Artifact, Target, build, functions_of, read_template

from .common import ROOT, SECRET, SERVICE_KEY, Outcome, Row

TARGET_MS = 150.0
TARGETED = {"connect", "disconnect", "message"}  # as in the imports scenario
OUT = ROOT / ".bench" / "artifacts"
ENV = {
    "JWT_SECRET": SECRET,
    "INTERNAL_SERVICE_KEY": SERVICE_KEY,
    "REDIS_URL": "redis://127.0.0.1:1/0",  # not reached: init builds clients, it does not connect
    "AWS_DEFAULT_REGION": "us-east-1",
}
INIT = (
    "import sys, time; sys.path.insert(0, sys.argv[1]); t = time.perf_counter(); import {module}; "
    "print(time.perf_counter() - t)"
)


def init_ms(artifact: Artifact) -> float:
    """Milliseconds to import the handler's module from the artifact alone, interpreter start-up excluded."""
    code = INIT.format(module=f"connection_service.{artifact.function.module}")
    run = subprocess.run(  # noqa: S603
        [sys.executable, "-I", "-S", "-c", code, str(artifact.path)],
        env=ENV, cwd=artifact.path.parent, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return float(run.stdout.strip()) * 1000


def run(runs: int, out: Path = OUT) -> Outcome:
    outcome = Outcome()
    target = Target.host()
    for function in functions_of(read_template()):
        artifact = build(function, target, out / function.logical_id)
        timings = [init_ms(artifact) for _ in range(runs)]
        median = statistics.median(timings)
        targeted = function.module in TARGETED
        outcome.rows.append(
            Row.check(
                "init (artifact)",
                f"{function.logical_id} imports its handler (median of {runs})",
                median,
                "ms",
                f"< {TARGET_MS:.0f} ms" if targeted else "",
                median < TARGET_MS if targeted else None,
                f"{artifact.size / 1e6:.1f} MB unzipped, built for {target.machine} / Python "
                f"{target.python[0]}.{target.python[1]} with bytecode",
            )
        )
        outcome.details[function.module] = {"runs_ms": timings, "median_ms": median, "size_bytes": artifact.size}
    return outcome
