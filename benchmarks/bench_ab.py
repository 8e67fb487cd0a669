"""This tree's tap against another revision's, runs alternated on one sandbox.

CPU and wall figures on a shared 2-core machine drift by about 10% from one minute to the
next, more than most changes move them: a before/after taken minutes apart says little.
Here both taps run against the same sandbox process (seeded once), one after the other,
``--rounds`` times, so drift hits both alike; each run prints wall, CPU (user + system of
the tap process) and peak RSS, then the medians. The other revision is checked out in a
temporary git worktree and run from there (PYTHONPATH); the sandbox is this tree's.

    python benchmarks/bench_ab.py                                   # uncommitted change vs HEAD
    python benchmarks/bench_ab.py --against f4a6870                 # bench_tap's data, 100 ms
    python benchmarks/bench_ab.py --against HEAD~3 --data mix --latency 50 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_sandbox, tap_command, write_tap_config

ROOT = Path(__file__).resolve().parents[1]
DATA = {
    # bench_tap.py's: 110k records over three search streams.
    "tap": ["--users", "80000", "--leads", "20000", "--conversations", "10000"],
    # bench_mix.py's: contacts, conversations with their parts, small lists.
    "mix": [
        "--users", "24000", "--leads", "6000", "--conversations", "3000",
        "--admins", "20", "--tags", "40", "--teams", "5",
    ],
}  # fmt: skip


def run_once(
    config: Path, catalog: Path | None, pythonpath: str | None
) -> tuple[float, float, float]:
    """(wall s, CPU s, peak RSS MB) of one tap run to the end, output discarded."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    args = [*tap_command(), "--config", str(config)]
    if catalog is not None:
        args += ["--catalog", str(catalog)]
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"tap-intercom exited with status {status} ({pythonpath or 'this tree'})")
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--against",
        default="HEAD",
        help="a git revision of this repository (default HEAD: the working tree's change; "
        "on a clean tree, the noise between two runs of the same code)",
    )
    parser.add_argument("--data", choices=sorted(DATA), default="tap")
    parser.add_argument("--latency", type=float, default=100.0, help="added ms per request")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8, help="tap max_workers")
    args = parser.parse_args()

    with TemporaryDirectory() as tmp:
        other = Path(tmp) / "other"
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(other), args.against],
            check=True,
            capture_output=True,
        )
        sandbox = start_sandbox(*DATA[args.data], "--random-seed", "9")
        try:
            config = write_tap_config(Path(tmp) / "config.json", sandbox, max_workers=args.workers)
            catalog = None
            if args.data == "mix":
                from bench_mix import catalog as mix_catalog

                catalog = Path(tmp) / "catalog.json"
                catalog.write_text(json.dumps(mix_catalog(config)))
            sandbox.control("POST", "faults", json={"clear": True, "latency_ms": args.latency})
            run_once(config, catalog, None)  # warms the sandbox's caches for both
            taps = {"this tree": None, args.against: str(other)}
            results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in taps}
            for _ in range(args.rounds):
                for name, path in taps.items():
                    time.sleep(10)  # a fresh rate window for each run
                    results[name].append(run_once(config, catalog, path))
        finally:
            sandbox.stop()
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)],
                check=False,
                capture_output=True,
            )

    print(f"\n{args.data} data, {args.latency:.0f} ms, {args.rounds} rounds alternated")
    for name, rows in results.items():
        runs = "  ".join(f"{w:.2f}s/{c:.2f}cpu/{m:.0f}MB" for w, c, m in rows)
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        rss = statistics.median(r[2] for r in rows)
        print(f"  {name:>12}: median wall {wall:.2f} s, CPU {cpu:.2f} s, peak RSS {rss:.0f} MB")
        print(f"  {'':>12}  {runs}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
