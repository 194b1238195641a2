"""``python -m bench``: run the scenarios, print figures against their targets, write ``.bench/results.json``.

By default the target is this repo's stack (its own Redis and ``python -m local``, started and stopped here).
``--target socketio --url http://HOST:PORT`` runs connect, broadcast, steady and memory against a FastAPI +
python-socketio server (Socket.IO v5, Redis manager) that you start yourself, with JWT_SECRET and
INTERNAL_SERVICE_KEY set to the bench's (or pass --secret / --service-key); memory needs --pid of its process.
Side by side, in one sitting (figures from different days do not compare):

  JWT_SECRET=bench-secret-0123456789abcdef0123456789abcdef INTERNAL_SERVICE_KEY=bench-internal-service-key \\
    REDIS_URL=redis://127.0.0.1:6391/0 python server.py --port 3998 &
  python -m bench --only connect,broadcast,steady
  python -m bench --only connect,broadcast,steady,memory --target socketio --url http://127.0.0.1:3998 --pid $!
  python -m bench.compare .bench/results.json .bench/results-socketio.json
"""

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

from . import artifacts, broadcast_scenario, connect_scenario, imports, memory, roundtrips, steady
from .common import ROOT, SECRET, SERVICE_KEY, Outcome, Row, fmt
from .targets import KINDS, TargetOptions

SCENARIOS = ("connect", "floor", "broadcast", "steady", "memory", "imports", "init", "redis")
LOCAL_ONLY = ("floor", "imports", "init", "redis")
SECRETS = ("secret", "service_key")  # never written to the results file


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run in well under a minute")
    p.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated subset of {','.join(SCENARIOS)}")
    p.add_argument("--connections", type=int, help="connect and floor: connections to open (1000; quick 200)")
    p.add_argument("--in-flight", type=int, default=50, help="handshakes in flight when clients connect (50)")
    p.add_argument("--broadcast-connections", type=int, help="broadcast: clients of the tenant (1000; quick 200)")
    p.add_argument("--other-tenant", type=int, help="broadcast: clients of a second tenant (50; quick 10)")
    p.add_argument("--rounds", type=int, help="broadcast: repetitions (20; quick 5)")
    p.add_argument("--steady-tenants", type=int, help="steady: tenants (200; quick 40)")
    p.add_argument("--steady-per-tenant", type=int, default=5, help="steady: clients per tenant (5)")
    p.add_argument("--steady-rate", type=float, default=167.0, help="steady: events/s offered, open loop (167)")
    p.add_argument("--steady-seconds", type=float, help="steady: length of the measured window (10; quick 3)")
    p.add_argument(
        "--steady-search",
        action=argparse.BooleanOptionalAction,
        help="steady: then find the highest rate with p99 <= 100 ms, 0 lost (on; quick off)",
    )
    p.add_argument("--search-seconds", type=float, help="steady search: window per step (5; quick 2)")
    p.add_argument("--idle-connections", type=int, help="memory: idle connections (2000; quick 300; try 10000)")
    p.add_argument("--import-runs", type=int, help="imports, init: fresh interpreters per module (7; quick 3)")
    p.add_argument("--redis-ops", type=int, help="redis: operations per measured kind (20; quick 5)")
    p.add_argument("--redis-tenant-size", type=int, help="redis: large tenant's connections (200; quick 20)")
    p.add_argument("--no-uvloop", action="store_true", help="client on asyncio's own loop even if uvloop is there")
    p.add_argument(
        "--target",
        choices=KINDS,
        default="local",
        help="local: this repo's stack, started here; "
        "socketio: a running python-socketio server at --url (connect, broadcast, steady, memory)",
    )
    p.add_argument("--url", help="socketio: its base URL, e.g. http://127.0.0.1:3998")
    p.add_argument("--pid", type=int, help="socketio: its process id (server CPU share; needed by memory)")
    p.add_argument("--secret", default=SECRET, help="JWT secret (HS256) the server checks tokens with")
    p.add_argument("--service-key", default=SERVICE_KEY, help="the server's X-Internal-Service-Key")
    p.add_argument("--output", type=Path, help="(.bench/results.json; socketio: .bench/results-socketio.json)")
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
        "steady_tenants": (200, 40),
        "steady_seconds": (10.0, 3.0),
        "steady_search": (True, False),
        "search_seconds": (5.0, 2.0),
    }
    for name, (full, small) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, small if quick else full)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.only) - set(SCENARIOS)
    if unknown:
        p.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    if args.target == "socketio" and not args.url:
        p.error("--target socketio needs --url http://HOST:PORT")
    if args.output is None:
        name = "results.json" if args.target == "local" else f"results-{args.target}.json"
        args.output = ROOT / ".bench" / name
    return args


def runner(no_uvloop: bool) -> Callable[[Coroutine[Any, Any, Outcome]], Outcome]:
    if not no_uvloop:
        try:
            import uvloop

            return uvloop.run
        except ImportError:
            pass
    return asyncio.run


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
    target = TargetOptions(args.target, args.url, args.pid, args.secret, args.service_key)
    plan: dict[str, Callable[[], Outcome]] = {
        "connect": lambda: run(connect_scenario.run(target, args.connections, args.in_flight)),
        "floor": lambda: run(connect_scenario.floor(target, args.connections, args.in_flight)),
        "broadcast": lambda: run(
            broadcast_scenario.run(target, args.broadcast_connections, args.other_tenant, args.rounds, args.in_flight)
        ),
        "steady": lambda: run(
            steady.run(target, args.steady_tenants, args.steady_per_tenant, args.steady_rate, args.steady_seconds,
                       args.steady_search, args.search_seconds, args.in_flight)
        ),
        "memory": lambda: run(memory.run(target, args.idle_connections, args.in_flight)),
        "imports": lambda: imports.run(args.import_runs),
        "init": lambda: artifacts.run(args.import_runs),
        "redis": lambda: run(roundtrips.run(args.redis_ops, args.redis_tenant_size)),
    }  # fmt: skip
    rows: list[Row] = []
    details: dict[str, Any] = {}
    warnings: list[str] = []
    started = time.time()
    for name in args.only:
        if args.target != "local" and name in LOCAL_ONLY:
            rows.append(Row(name, "skipped", None, "", "", "INFO", f"this repo's stack only, not {args.target}"))
            continue
        print(f"bench: {name} ({args.target}) …", file=sys.stderr, flush=True)
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
        "target": args.target,
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in SECRETS},
        "rows": [vars(r) for r in rows],
        "details": details,
        "warnings": warnings,
    }
    args.output.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
