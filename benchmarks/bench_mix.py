"""A full sync of a call-heavy mix against the rate-limit floor (issue 12).

30k contacts (24k users, 6k leads), 3k conversations with their parts, admins, tags, teams:
most calls are the one GET per conversation that conversation_parts needs. The sandbox
runs at Intercom's default limit (10,000/min: 1,666 per 10 s); the floor is the calls the
run made divided by that rate: no client finishes faster without fewer calls. Printed per
added latency: wall, calls, the floor and wall / floor (goal <= 1.2). Figures only.

    python benchmarks/bench_mix.py
    python benchmarks/bench_mix.py --latencies 100 --small
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import run_tap, start_sandbox, tap_command, write_tap_config

STREAMS = ("users", "leads", "conversations", "conversation_parts", "admins", "tags", "teams")


def catalog(config: Path) -> dict:
    out = subprocess.run(
        [*tap_command(), "--config", str(config), "--discover"], capture_output=True, check=True
    ).stdout
    cat = json.loads(out)
    for entry in cat["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = entry["tap_stream_id"] in STREAMS
    return cat


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tenth of the data")
    parser.add_argument("--latencies", default="50,100", help="added ms per request, list")
    parser.add_argument("--workers", type=int, default=8, help="tap max_workers")
    args = parser.parse_args()
    scale = 10 if args.small else 1
    sandbox = start_sandbox(
        "--users", str(24_000 // scale), "--leads", str(6_000 // scale),
        "--conversations", str(3_000 // scale), "--admins", "20", "--tags", "40",
        "--teams", "5", "--random-seed", "9",
    )  # fmt: skip
    try:
        with TemporaryDirectory() as tmp:
            config = write_tap_config(Path(tmp) / "config.json", sandbox, max_workers=args.workers)
            cat_path = Path(tmp) / "catalog.json"
            cat_path.write_text(json.dumps(catalog(config)))
            per_second = sandbox.control("GET", "config")["rate_limit_per_window"] / 10
            for latency in (float(x) for x in args.latencies.split(",")):
                sandbox.control("POST", "faults", json={"clear": True, "latency_ms": latency})
                sandbox.control("DELETE", "stats")
                time.sleep(10)  # a fresh rate window, as a scheduled run would find it
                r = run_tap(["--config", str(config), "--catalog", str(cat_path)])
                stats = sandbox.control("GET", "stats")
                calls = stats["total"]
                rejected = sum(ops.get("429", 0) for ops in stats["operations"].values())
                floor = calls / per_second
                print(
                    f"\nlatency {latency:.0f} ms, {args.workers} workers: {r.records} records\n"
                    f"  wall        {r.wall:.2f} s\n"
                    f"  API calls   {calls} ({rejected} x 429)\n"
                    f"  floor       {floor:.2f} s at {per_second:.1f} calls/s\n"
                    f"  wall/floor  {r.wall / floor:.2f}x\n"
                    f"  tap CPU     {r.cpu / r.records * 1e6:.1f} ms per 1,000 records, "
                    f"peak RSS {r.maxrss:.0f} MB"
                )
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
