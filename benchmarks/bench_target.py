"""target-intercom at scale: N users, half new and half existing, at 100 ms per request.

The sandbox runs in a subprocess with ``--latency-ms 100`` and N/2 seeded users; the input
gives every existing user a new name (so each needs an update) and adds N/2 new users. The
target runs in this process with its default settings. Prints records/s, API calls per
record (target: <= 1.05; the writes alone are 1.0, so this measures the look-up overhead),
429s, and the share of the request budget (the limit less the reserve, or --rpm) used. Then it
re-runs the same input: every record must come out unchanged, with look-ups only (the
writes of the re-run are printed: 0 expected).

    python benchmarks/bench_target.py             # 10,000 users
    python benchmarks/bench_target.py --small     # 1,000 users, for a quick look
    python benchmarks/bench_target.py --workers 16
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import random
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import start_sandbox

from target_intercom.target import TargetIntercom

WRITES = {"CreateContact", "UpdateContact", "createOrUpdateCompany", "createDataAttribute"}
SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": ["email"],
    "schema": {"properties": {"email": {"type": "string"}, "name": {"type": "string"}}},
}


def build_input(existing: list[str], new: int, seed: int = 7) -> str:
    """Existing users renamed, plus ``new`` new users, shuffled; one STATE at the end."""
    records = [{"email": e, "name": f"Renamed {i}"} for i, e in enumerate(existing)]
    records += [{"email": f"new.user.{i}@bench.example", "name": f"New {i}"} for i in range(new)]
    random.Random(seed).shuffle(records)
    lines = [json.dumps(SCHEMA)]
    lines += [json.dumps({"type": "RECORD", "stream": "users", "record": r}) for r in records]
    lines.append(json.dumps({"type": "STATE", "value": {"bench": len(records)}}))
    return "\n".join(lines) + "\n"


def run(config: dict, text: str) -> tuple[TargetIntercom, float]:
    """One target run in this process; returns the target and the elapsed seconds."""
    target = TargetIntercom(config=config)
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()):
        target.listen(io.StringIO(text))
    return target, time.monotonic() - started


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", action="store_true", help="1,000 users instead of 10,000")
    p.add_argument("--users", type=int, help="number of input records (half existing)")
    p.add_argument("--latency-ms", type=float, default=100.0)
    p.add_argument("--workers", type=int, default=8, help="max_workers (default 8)")
    p.add_argument(
        "--rpm",
        type=int,
        default=None,
        help="max_requests_per_minute (default: unset, the app's announced limit less 10%%)",
    )
    args = p.parse_args()
    total = args.users or (1_000 if args.small else 10_000)
    existing_n = total // 2

    print(f"starting sandbox: {existing_n} seeded users, {args.latency_ms:g} ms latency ...")
    sbx = start_sandbox(
        "--users", str(existing_n), "--latency-ms", str(args.latency_ms), "--random-seed", "7"
    )
    try:
        state = sbx.control("GET", "state")
        existing = [
            c["email"]
            for c in state["contacts"]["contacts"]
            if c["role"] == "user" and c.get("email") and not c.get("archived")
        ]
        text = build_input(existing, total - len(existing))
        sbx.control("DELETE", "stats")
        with TemporaryDirectory() as tmp:
            config = {
                "access_token": sbx.token,
                "api_url": sbx.base_url,
                "max_workers": args.workers,
                "rejects_file": str(Path(tmp) / "rejects.jsonl"),
            }
            if args.rpm:
                config["max_requests_per_minute"] = args.rpm
            # The budget the target spends: our cap, else the sandbox's limit less the reserve.
            per_window = sbx.control("GET", "config")["rate_limit_per_window"]
            budget = args.rpm or int(per_window * 0.9) * 6
            logging.getLogger("target-intercom").setLevel(logging.WARNING)
            logging.getLogger("singer_sdk.metrics").setLevel(logging.WARNING)
            target, elapsed = run(config, text)
            stats = sbx.control("GET", "stats")
            sbx.control("DELETE", "stats")
            rerun, rerun_elapsed = run(config, text)
            rerun_stats = sbx.control("GET", "stats")
    finally:
        sbx.stop()

    outcomes = target.summary()["streams"]["users"]
    calls = stats["total"]
    by_op = {op: sum(st.values()) for op, st in stats["operations"].items()}
    limited = sum(st.get("429", 0) for st in stats["operations"].values())
    rpm = calls / (elapsed / 60)
    print(f"records            {total} ({len(existing)} existing, {total - len(existing)} new)")
    print(f"outcomes           {json.dumps({k: v for k, v in outcomes.items() if v})}")
    print(f"elapsed            {elapsed:.1f} s")
    print(f"records/s          {total / elapsed:.1f}")
    print(f"API calls          {calls} {json.dumps(by_op)}")
    print(f"API calls/record   {calls / total:.3f}  (target <= 1.05)")
    print(f"429 responses      {limited}")
    print(f"request rate       {rpm:.0f}/min = {rpm / budget:.0%} of the budget of {budget}/min")
    print(f"settings           max_workers={args.workers}, latency {args.latency_ms:g} ms")
    again = {k: v for k, v in rerun.summary()["streams"]["users"].items() if v}
    print(f"re-run outcomes    {json.dumps(again)}")
    print(
        f"re-run             {rerun_elapsed:.1f} s, {rerun_stats['total']} API calls "
        f"({rerun_stats['total'] / total:.3f}/record)"
    )
    writes = sum(sum(st.values()) for op, st in rerun_stats["operations"].items() if op in WRITES)
    print(f"re-run writes      {writes}  (target 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
