"""conversation_parts at scale: 5k conversations at 100 ms per request, 1 worker vs default.

The sandbox runs in a subprocess (seeded once); the tap runs as its own subprocess with only
conversation_parts selected. For each worker count it prints wall time, parts emitted, API
calls (GET /conversations/{id} and searches) and calls per changed conversation; then the
speed-up of the default over one conversation at a time, and a second, incremental run with
nothing changed (what an unchanged workspace costs).

Targets (issue 4): <= 1 fetch per changed conversation; >= 6x faster than one conversation
at a time. Figures only: nothing is asserted.

    python benchmarks/bench_conversation_parts.py            # 5,000 conversations
    python benchmarks/bench_conversation_parts.py --small    # 500, a quick look
    python benchmarks/bench_conversation_parts.py --workers 1,8,16 --latency 50
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import SandboxProcess, start_sandbox

STREAM = "conversation_parts"


def tap_command() -> list[str]:
    script = Path(sys.executable).with_name("tap-intercom")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tap_intercom.tap"]


def catalog_for(config: Path) -> dict[str, Any]:
    """The tap's catalog (from --discover) with only conversation_parts selected."""
    out = subprocess.run(
        [*tap_command(), "--config", str(config), "--discover"],
        capture_output=True,
        check=True,
    ).stdout
    catalog = json.loads(out)
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = entry["tap_stream_id"] == STREAM
    return catalog


def run_tap(args: list[str]) -> dict[str, Any]:
    """Run the tap; count parts and keep the last STATE."""
    started = time.monotonic()
    proc = subprocess.run([*tap_command(), *args], capture_output=True, check=False)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace")[-3000:])
        raise SystemExit(f"tap-intercom exited with status {proc.returncode}")
    parts = 0
    state: dict[str, Any] = {}
    for line in proc.stdout.splitlines():
        if line.startswith(b'{"type":"RECORD"'):
            parts += 1
        elif line.startswith(b'{"type":"STATE"'):
            state = json.loads(line)["value"]
    return {"wall": wall, "parts": parts, "state": state}


def measure(sandbox: SandboxProcess, args: list[str]) -> tuple[dict[str, Any], dict[str, int]]:
    sandbox.control("DELETE", "stats")
    result = run_tap(args)
    ops = sandbox.control("GET", "stats")["operations"]
    calls = {op: sum(by_status.values()) for op, by_status in ops.items()}
    return result, calls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a tenth of the data")
    parser.add_argument("--latency", type=float, default=100.0, help="added ms per request")
    parser.add_argument("--workers", default="1,8", help="tap max_workers to compare")
    args = parser.parse_args()

    conversations = 500 if args.small else 5_000
    print(f"seeding the sandbox: {conversations} conversations ...")
    t0 = time.monotonic()
    sandbox = start_sandbox(
        "--users", str(max(50, conversations // 10)), "--conversations", str(conversations),
        "--random-seed", "4",
    )  # fmt: skip
    print(f"  ready in {time.monotonic() - t0:.1f}s at {sandbox.base_url}")
    walls: dict[int, float] = {}
    try:
        with TemporaryDirectory() as tmp:
            base_config = {
                "access_token": sandbox.token,
                "api_url": sandbox.base_url,
                "start_date": "2000-01-01T00:00:00Z",
            }
            config = Path(tmp) / "config.json"
            config.write_text(json.dumps(base_config))
            catalog = Path(tmp) / "catalog.json"
            catalog.write_text(json.dumps(catalog_for(config)))
            sandbox.control("POST", "faults", json={"clear": True, "latency_ms": args.latency})
            state: dict[str, Any] = {}
            workers = 8
            for workers in (int(x) for x in args.workers.split(",")):
                config.write_text(json.dumps({**base_config, "max_workers": workers}))
                r, calls = measure(sandbox, ["--config", str(config), "--catalog", str(catalog)])
                fetched = calls.get("retrieveConversation", 0)
                total = sum(calls.values())
                walls[workers] = r["wall"]
                state = r["state"]
                print(
                    f"\nlatency {args.latency:.0f} ms, max_workers {workers}: "
                    f"{r['parts']} parts of {conversations} conversations\n"
                    f"  wall          {r['wall']:.1f} s  ({conversations / r['wall']:.0f} "
                    f"conversations/s)\n"
                    f"  API calls     {total}: {fetched} GET /conversations/{{id}}, "
                    f"{calls.get('searchConversations', 0)} searches, "
                    f"{total - fetched - calls.get('searchConversations', 0)} other\n"
                    f"  per changed conversation: {fetched / conversations:.3f} fetches, "
                    f"{total / conversations:.3f} calls in all"
                )
            if len(walls) > 1 and 1 in walls:
                best = min(w for w in walls if w != 1)
                print(f"\nspeed-up of max_workers {best} over 1: {walls[1] / walls[best]:.1f}x")
            # Nothing changed since: the incremental run lists, and fetches nothing.
            state_file = Path(tmp) / "state.json"
            state_file.write_text(json.dumps(state))
            config.write_text(json.dumps({**base_config, "max_workers": workers}))
            r, calls = measure(
                sandbox,
                ["--config", str(config), "--catalog", str(catalog), "--state", str(state_file)],
            )
            print(
                f"\nincremental run, nothing changed: {r['wall']:.1f} s, {r['parts']} parts, "
                f"{sum(calls.values())} API calls ({calls.get('retrieveConversation', 0)} "
                f"fetches)"
            )
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
