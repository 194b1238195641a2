"""``python -m bench``: run the scenarios, print figures against DESIGN §11, write ``.bench/results.json``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Any

from . import broadcast, connect, imports, memory, roundtrips
from .common import ROOT, Outcome, Row

SCENARIOS = ("connect", "broadcast", "memory", "imports", "redis")


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run in well under a minute")
    p.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--connections", type=int, help="connect: connections to open (1000; quick 200)")
    p.add_argument("--in-flight", type=int, default=50, help="connect: handshakes in flight (50)")
    p.add_argument("--broadcast-connections", type=int, help="broadcast: clients of the tenant (1000; quick 200)")
    p.add_argument("--other-tenant", type=int, help="broadcast: clients of a second tenant (50; quick 10)")
    p.add_argument("--rounds", type=int, help="broadcast: repetitions (20; quick 5)")
    p.add_argument("--idle-connections", type=int, help="memory: idle connections (2000; quick 300; try 10000)")
    p.add_argument("--import-runs", type=int, help="imports: fresh interpreters per module (7; quick 3)")
    p.add_argument("--redis-ops", type=int, help="redis: operations per measured kind (20; quick 5)")
    p.add_argument("--redis-tenant-size", type=int, help="redis: large tenant's connections (200; quick 20)")
    p.add_argument("--no-uvloop", action="store_true", help="client on asyncio's own loop even if uvloop is there")
    p.add_argument("--output", type=Path, default=ROOT / ".bench" / "results.json")
    args = p.parse_args(argv)
    quick = args.quick
    defaults = {
        "connections": (1000, 200),
        "broadcast_connections": (1000, 200),
        "other_tenant": (50, 10),
        "rounds": (20, 5),
        "idle_connections": (2000, 300),
        "import_runs": (7, 3),
        "redis_ops": (20, 5),
        "redis_tenant_size": (200, 20),
    }
    for name, (full, small) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    return args


def runner(no_uvloop: bool) -> Callable[[Coroutine[Any, Any, Outcome]], Outcome]:
    if not no_uvloop:
        try:
            import uvloop

            return uvloop.run
        except ImportError:
            pass
    return asyncio.run


def fmt(value: float | None) -> str:
    if value is None:
        return "—"
    if value != value:  # NaN
        return "n/a"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def table(rows: list[Row]) -> str:
    head = ("scenario", "figure", "measured", "target", "")
    body = [(r.scenario, r.metric, f"{fmt(r.value)} {r.unit}".strip(), r.target, r.verdict) for r in rows]
    widths = [max(len(str(line[i])) for line in [head, *body]) for i in range(5)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row, line in zip(rows, body, strict=True):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if row.note:
            lines.append(" " * (widths[0] + 2) + "  ↳ " + row.note)
    return "\n".join(lines)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # unwinds every ``with``: clients closed, gateway and Redis stopped


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    run = runner(args.no_uvloop)
    plan: dict[str, Callable[[], Outcome]] = {
        "connect": lambda: run(connect.run(args.connections, args.in_flight)),
        "broadcast": lambda: run(broadcast.run(args.broadcast_connections, args.other_tenant, args.rounds)),
        "memory": lambda: run(memory.run(args.idle_connections, args.in_flight)),
        "imports": lambda: imports.run(args.import_runs),
        "redis": lambda: run(roundtrips.run(args.redis_ops, args.redis_tenant_size)),
    }
    rows: list[Row] = []
    details: dict[str, Any] = {}
    warnings: list[str] = []
    started = time.time()
    for name in args.only:
        print(f"bench: {name} …", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            outcome = plan[name]()
        except KeyboardInterrupt:
            print("bench: interrupted; gateway and Redis stopped", file=sys.stderr)
            return 130
        except Exception as exc:  # one scenario failing must not hide the others' figures
            outcome = Outcome(
                rows=[
                    Row(
                        name,
                        "scenario failed",
                        None,
                        "",
                        "",
                        "MISS",
                        f"{type(exc).__name__}: {exc}".splitlines()[0][:300],
                    )
                ]
            )
        details[name] = {**outcome.details, "duration_s": time.perf_counter() - t0}
        rows += outcome.rows
        warnings += outcome.warnings
    print()
    print(table(rows))
    for note in warnings:
        print(f"\nnote: {note}")
    misses = sum(1 for r in rows if r.verdict == "MISS")
    print(f"\n{sum(1 for r in rows if r.verdict == 'PASS')} PASS, {misses} MISS  →  {args.output}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": [vars(r) for r in rows],
        "details": details,
        "warnings": warnings,
    }
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
