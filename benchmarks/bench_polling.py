"""The two-minute schedule (the original connector's trigger): what one small run costs.

3,000 users updated earlier today (late in the day), a full sync, then 10 new users two
minutes later and an incremental run from the first run's state. Prints, for the second
run, the contact-search calls, all calls, the records emitted and the wall time; and the
same with the workspace in Los Angeles (contact search days follow the workspace's zone).
The goal (issue 12): the 10 new users in <= 4 contact-search calls (reading oldest first
from the bookmark's day cost one call per 150 contacts updated since local midnight).
Figures only: nothing is asserted.

    python benchmarks/bench_polling.py
    python benchmarks/bench_polling.py --updated 20000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SandboxProcess, start_sandbox, tap_command

DAY0 = 1_749_513_600  # 2025-06-10 00:00 UTC


def tap(config: Path, state: dict | None, tmp: Path) -> tuple[int, dict | None, float]:
    """Run the tap; (records, last state, wall seconds)."""
    args = [*tap_command(), "--config", str(config)]
    if state is not None:
        path = tmp / "state.json"
        path.write_text(json.dumps(state))
        args += ["--state", str(path)]
    t0 = time.monotonic()
    out = subprocess.run(args, capture_output=True, check=True).stdout.splitlines()
    wall = time.monotonic() - t0
    records = sum(1 for line in out if line.startswith(b'{"type":"RECORD"'))
    states = [json.loads(line)["value"] for line in out if line.startswith(b'{"type":"STATE"')]
    return records, (states[-1] if states else None), wall


def scenario(sandbox: SandboxProcess, zone: str, updated: int, tmp: Path) -> None:
    base = sandbox.base_url
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {sandbox.token}"
    sandbox.control("POST", "reset")
    sandbox.control("POST", "config", json={"timezone": zone, "rate_limit_per_minute": 10**7})
    now = DAY0 + 20 * 3600 + 7 * 3600  # 20:00 in Los Angeles, late in the UTC day too
    for i in range(updated):  # "earlier today": spread over the six hours before now
        sandbox.control("POST", "clock", json={"set": now - 6 * 3600 + i * 5, "frozen": True})
        http.post(f"{base}/contacts", json={"role": "user", "email": f"u{i}@bench.example"})
    sandbox.control("POST", "clock", json={"set": now, "frozen": True})
    sandbox.control("POST", "config", json={"rate_limit_per_minute": 10_000})
    config = tmp / "config.json"
    config.write_text(json.dumps({"access_token": sandbox.token, "api_url": base}))
    first, state, wall1 = tap(config, None, tmp)
    sandbox.control("POST", "clock", json={"set": now + 120, "frozen": True})
    sandbox.control("POST", "config", json={"rate_limit_per_minute": 10**7})
    for i in range(10):
        http.post(f"{base}/contacts", json={"role": "user", "email": f"new{i}@bench.example"})
    sandbox.control("POST", "config", json={"rate_limit_per_minute": 10_000})
    sandbox.control("DELETE", "stats")
    second, _, wall2 = tap(config, state, tmp)
    ops = sandbox.control("GET", "stats")["operations"]
    searches = sum(ops.get("SearchContacts", {}).values())
    calls = sum(sum(by.values()) for by in ops.values())
    print(
        f"\nworkspace in {zone}: {updated} users updated earlier today\n"
        f"  full sync          {first} records in {wall1:.2f} s\n"
        f"  two minutes later  {second} records (10 new users), {searches} contact-search "
        f"calls (users + leads), {calls} API calls in all, {wall2:.2f} s wall"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updated", type=int, default=3000, help="users updated earlier today")
    args = parser.parse_args()
    sandbox = start_sandbox("--random-seed", "5")
    try:
        with TemporaryDirectory() as tmp:
            for zone in ("UTC", "America/Los_Angeles"):
                scenario(sandbox, zone, args.updated, Path(tmp))
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
