"""``python -m bench [--quick] [--only P1,P2,...]``: run the benchmarks, print one table."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from . import p1_conversation, p2_throughput, p3_dispatch, p4_memory, p5_startup, p6_relay, server_memory
from .common import Row

BENCHMARKS: dict[str, Callable[[bool], list[Row]]] = {
    "P1": p1_conversation.run,
    "P2": p2_throughput.run,
    "P3": p3_dispatch.run,
    "P4": p4_memory.run,
    "P5": p5_startup.run,
    "P6": p6_relay.run,
    "SERVER": server_memory.run,
}


def table(rows: list[Row]) -> str:
    header = ("figure", "agent_rt", "baseline", "ratio", "target", "")
    lines = [
        (
            row.figure,
            row.value,
            row.baseline,
            "" if row.ratio is None else f"{row.ratio:.2f}×",
            row.target,
            {True: "met", False: "MISSED", None: ""}[row.met],
        )
        for row in rows
    ]
    widths = [max(len(str(line[i])) for line in [header, *lines]) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=False))
        for line in [header, *lines]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="reduced sizes (CI)")
    parser.add_argument("--only", default="", help="comma-separated subset, e.g. P1,P3")
    parser.add_argument(
        "--js-deltas",
        type=int,
        default=0,
        help="P1: audio deltas for the JS port (default 600 with --quick, else 6000: ~4 min)",
    )
    args = parser.parse_args(argv)
    p1_conversation.JS_DELTAS = args.js_deltas
    chosen = [name.strip().upper() for name in args.only.split(",") if name.strip()] or list(BENCHMARKS)
    rows: list[Row] = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.extend(BENCHMARKS[name](args.quick))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
