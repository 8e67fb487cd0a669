"""tap-intercom under 429s that leave budget: a clean sync vs. 5% of requests throttled.

Intercom answers 429 while X-RateLimit-Remaining still shows budget (a workspace-wide limit,
a burst, an overloaded server; FACTS.md §5). Such a 429 must slow the one request (and the
rate a little), not hold every thread until the window resets. This runs, in one go and on
the same seeded sandbox, a full sync with no faults and a full sync with the sandbox's "429"
fault (a 429 with budget left) at 5% of requests, and prints side by side: wall time, the
ratio (goal <= 1.5x), API calls, 429s seen, and the tap's limiter counters (throttles with
budget, waits for a window, pacing waits, the lowest effective rate). Figures only.

    python benchmarks/bench_ratelimit.py            # 24k users + 6k leads + 3k conversations
    python benchmarks/bench_ratelimit.py --small    # a tenth of that
    python benchmarks/bench_ratelimit.py --rate 0.1 --workers 16 --latency-ms 100
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import count_records, start_sandbox, write_tap_config

# The tap in a child process, which prints its rate limiters' counters to stderr at exit.
_TAP_WITH_COUNTERS = """
import atexit, json, sys
from intercom_api import ratelimit

def _report():
    for limiter in list(ratelimit._registry.values()):
        counters = getattr(limiter, "counters", lambda: {"window_waits": limiter.waits})()
        print("LIMITER " + json.dumps(counters), file=sys.stderr, flush=True)

atexit.register(_report)
from tap_intercom.tap import TapIntercom
sys.argv[0] = "tap-intercom"
TapIntercom.cli()
"""


def run_tap(config: Path) -> tuple[int, float, dict[str, Any]]:
    """One full sync as a child process: (records, wall seconds, limiter counters)."""
    started = time.monotonic()
    with TemporaryDirectory() as tmp:
        err_path = Path(tmp) / "stderr"
        with err_path.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-c", _TAP_WITH_COUNTERS, "--config", str(config)],
                stdout=subprocess.PIPE,
                stderr=err,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert proc.stdout is not None
            records = count_records(proc.stdout)
            status = proc.wait()
        wall = time.monotonic() - started
        lines = err_path.read_text(errors="replace").splitlines()
    if status != 0:
        raise SystemExit(f"tap-intercom exited with status {status}:\n" + "\n".join(lines[-20:]))
    counters: dict[str, Any] = {}
    for line in lines:
        if line.startswith("LIMITER "):
            counters = json.loads(line[len("LIMITER ") :])
    return records, wall, counters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tenth of the data")
    parser.add_argument("--rate", type=float, default=0.05, help="share of requests throttled")
    parser.add_argument("--workers", type=int, default=8, help="tap max_workers")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added ms per request")
    args = parser.parse_args()

    scale = 10 if args.small else 1
    users, leads, convs = 24_000 // scale, 6_000 // scale, 3_000 // scale
    print(f"seeding the sandbox: {users} users, {leads} leads, {convs} conversations ...")
    t0 = time.monotonic()
    sandbox = start_sandbox(
        "--users", str(users), "--leads", str(leads), "--conversations", str(convs),
        "--companies", str(max(10, 100 // scale)), "--random-seed", "5",
    )  # fmt: skip
    print(f"  ready in {time.monotonic() - t0:.1f}s at {sandbox.base_url}")
    results: list[tuple[str, int, float, int, int, dict[str, Any]]] = []
    try:
        with TemporaryDirectory() as tmp:
            config = write_tap_config(Path(tmp) / "config.json", sandbox, max_workers=args.workers)
            for label, rates in (
                ("clean", {}),
                (f"429 with budget at {args.rate:.0%}", {"429": args.rate}),
            ):
                sandbox.control(
                    "POST",
                    "faults",
                    json={"clear": True, "rates": rates, "latency_ms": args.latency_ms},
                )
                sandbox.control("DELETE", "stats")
                records, wall, counters = run_tap(config)
                stats = sandbox.control("GET", "stats")
                rejected = sum(ops.get("429", 0) for ops in stats["operations"].values())
                results.append((label, records, wall, stats["total"], rejected, counters))
                print(f"  {label}: {records} records in {wall:.1f}s")
    finally:
        sandbox.stop()

    def row(name: str, cells: list[str]) -> str:
        return f"  {name:<24}" + "".join(f"{c:>28}" for c in cells)

    print(
        f"\n{args.workers} workers, {args.latency_ms:.0f} ms added per request, "
        "same seeded data, one run each:"
    )
    print(row("", [r[0] for r in results]))
    print(row("records", [str(r[1]) for r in results]))
    print(row("wall (s)", [f"{r[2]:.2f}" for r in results]))
    print(row("API calls", [str(r[3]) for r in results]))
    print(row("429s seen", [str(r[4]) for r in results]))
    for key in (
        "throttles_with_budget",
        "window_limited",
        "window_waits",
        "pace_waits",
        "min_effective_rate",
    ):
        cells = []
        for r in results:
            value = r[5].get(key, "n/a")
            cells.append(f"{value:.1f}" if isinstance(value, float) else str(value))
        print(row(key, cells))
    clean, faulted = results[0][2], results[-1][2]
    print(f"\n  ratio faulted / clean wall: {faulted / clean:.2f}x (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
