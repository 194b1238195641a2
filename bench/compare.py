"""``python -m bench.compare A.json B.json``: two results files side by side, figure by figure, with A / B.

Rows match by scenario and figure name, so run both with the same sizes (e.g. ``.bench/results.json`` of the
local stack and ``.bench/results-socketio.json`` of a Socket.IO target, measured in the same sitting).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .common import fmt


def load(path: Path) -> tuple[str, dict[tuple[str, str], dict[str, Any]]]:
    document = json.loads(path.read_text())
    rows = {(r["scenario"], r["metric"]): r for r in document["rows"]}
    return f"{document.get('target', 'local')} ({document.get('started_at', '?')})", rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    args = p.parse_args(argv)
    (name_a, a), (name_b, b) = load(args.a), load(args.b)
    head = ("scenario", "figure", f"A: {name_a}", f"B: {name_b}", "A / B")
    body: list[tuple[str, ...]] = []
    for key in [*a, *(k for k in b if k not in a)]:
        ra, rb = a.get(key), b.get(key)
        va = ra["value"] if ra else None
        vb = rb["value"] if rb else None
        unit = (ra or rb or {}).get("unit", "")
        ratio = fmt(va / vb) if va is not None and vb else "—"
        body.append((*key, f"{fmt(va)} {unit}".strip(), f"{fmt(vb)} {unit}".strip(), ratio))
    widths = [max(len(line[i]) for line in [head, *body]) for i in range(len(head))]
    for line in [head, tuple("-" * w for w in widths), *body]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
