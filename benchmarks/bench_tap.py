"""tap-intercom at scale: 100k contacts + 10k conversations, at 0 ms and 100 ms per request.

The sandbox runs in a subprocess (seeded once), so its CPU stays out of the tap's figures;
the tap runs as its own subprocess too (``tap-intercom --config ...``, stdout read here), so
its CPU, peak memory and wall time are exactly the process's. For each added latency it
prints: wall time, records/s, tap CPU per 1,000 records (also net of the interpreter start-up
and imports, measured with ``--discover``), API calls, 429s, wall time against the rate-limit
floor (calls / the sandbox's limit per second), and RSS sampled during the run
(start / middle / end / peak: flat memory means the middle and end are close to the start).

Targets (issue 3): at 100 ms latency, 100k contacts in <= 20 s wall; <= 90 ms CPU per 1,000
records; memory flat. Figures only: nothing is asserted.

    python benchmarks/bench_tap.py              # 80k users + 20k leads + 10k conversations
    python benchmarks/bench_tap.py --small      # 8k + 2k + 1k, a quick look
    python benchmarks/bench_tap.py --latencies 100 --workers 16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_tap, start_sandbox, write_tap_config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tenth of the data")
    parser.add_argument("--latencies", default="0,50,100", help="added ms per request, list")
    parser.add_argument("--workers", type=int, default=8, help="tap max_workers")
    args = parser.parse_args()

    scale = 10 if args.small else 1
    users, leads, convs = 80_000 // scale, 20_000 // scale, 10_000 // scale
    print(f"seeding the sandbox: {users} users, {leads} leads, {convs} conversations ...")
    t0 = time.monotonic()
    sandbox = start_sandbox(
        "--users", str(users), "--leads", str(leads), "--conversations", str(convs),
        "--companies", str(200 // scale), "--random-seed", "3",
    )  # fmt: skip
    print(f"  ready in {time.monotonic() - t0:.1f}s at {sandbox.base_url}")
    try:
        with TemporaryDirectory() as tmp:
            config = write_tap_config(Path(tmp) / "config.json", sandbox, max_workers=args.workers)
            base = run_tap(["--config", str(config), "--discover"], sample_every=None)
            print(f"  tap start-up (imports + discovery): {base.cpu:.2f}s CPU")
            for latency in (float(x) for x in args.latencies.split(",")):
                sandbox.control("POST", "faults", json={"clear": True, "latency_ms": latency})
                sandbox.control("DELETE", "stats")
                r = run_tap(["--config", str(config)], sample_every=0.2)
                stats = sandbox.control("GET", "stats")
                calls = stats["total"]
                rejected = sum(ops.get("429", 0) for ops in stats["operations"].values())
                # The floor: the calls at the sandbox's limit (Intercom's default, 1,666 per
                # 10 s): no client can finish faster without fewer calls.
                per_second = sandbox.control("GET", "config")["rate_limit_per_window"] / 10
                floor = calls / per_second
                n = r.records
                rss = [r.rss_at(0.0), r.rss_at(0.5), r.rss_at(1.0)]
                print(
                    f"\nlatency {latency:.0f} ms, {args.workers} workers: {n} records\n"
                    f"  wall          {r.wall:.2f} s  ({n / r.wall:.0f} records/s)\n"
                    f"  tap CPU       {r.cpu:.2f} s = {r.cpu / n * 1e6:.1f} ms per 1,000 "
                    f"records ({(r.cpu - base.cpu) / n * 1e6:.1f} ms net of start-up)\n"
                    f"  API calls     {calls} ({rejected} x 429)\n"
                    f"  rate floor    {floor:.2f} s at {per_second:.1f} calls/s: wall is "
                    f"{r.wall / floor:.2f}x the floor\n"
                    f"  tap RSS       start/middle/end "
                    f"{' / '.join(f'{x:.0f}' for x in rss)} MB, peak {r.maxrss:.0f} MB"
                )
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
