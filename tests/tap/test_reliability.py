"""The tap under injected faults and under a tight rate limit (figures printed, not asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tap_support import D0, DAY, TOKEN, SandboxControl, run_tap

from intercom_sandbox.server import RunningSandbox
from tap_intercom.transform import iso

STREAMS = ("users", "leads", "conversations")


def tap_command() -> list[str]:
    script = Path(sys.executable).with_name("tap-intercom")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tap_intercom.tap"]


@pytest.mark.slow
def test_a_sync_under_10_percent_faults_emits_what_a_clean_one_does(
    sandbox: RunningSandbox, ctl: SandboxControl, tmp_path: Path
) -> None:
    ctl.clock(D0)
    ctl.seed(users=3000, leads=600, conversations=600, companies=30)
    config = {"access_token": TOKEN, "api_url": sandbox.base_url, "start_date": iso(D0 - 400 * DAY)}
    clean = run_tap(sandbox.base_url, start_date=config["start_date"])
    expected = {s: sorted(clean.ids(s)) for s in STREAMS}
    assert all(expected.values())

    # 10% of requests fail: 500, 502, 503, 429, dropped connections, truncated bodies.
    ctl.faults(
        rates={"500": 0.02, "502": 0.01, "503": 0.01, "429": 0.02, "drop": 0.02, "truncate": 0.02}
    )
    ctl.reset_stats()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    result = subprocess.run(
        [*tap_command(), "--config", str(path)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert TOKEN not in result.stderr
    messages = [json.loads(line) for line in result.stdout.splitlines() if line]
    got = {
        s: sorted(m["record"]["id"] for m in messages if m["type"] == "RECORD" and m["stream"] == s)
        for s in STREAMS
    }
    assert got == expected
    injected = ctl.stats()["faults_injected"]
    print(f"faults injected: {injected}")
    assert sum(1 for n in injected.values() if n) >= 3  # several kinds, all survived


@pytest.mark.slow
def test_30k_contacts_under_a_1000_per_minute_limit(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.config(rate_limit_per_minute=1000)
    ctl.clock(D0)
    ctl.seed(users=25_000, leads=5_000, companies=50)
    ctl.reset_stats()
    started = time.monotonic()
    run = run_tap(sandbox.base_url, start_date=iso(D0 - 400 * DAY))
    wall = time.monotonic() - started
    stats = ctl.stats()
    calls = stats["total"]
    rejected = sum(ops.get("429", 0) for ops in stats["operations"].values())
    records = len(run.records("users")) + len(run.records("leads"))
    floor = (calls - 1) / 166 * 10  # seconds the budget (166 per 10-second window) imposes
    print(
        f"\n30k contacts at 1000/min: {records} records, {calls} calls, {rejected} x 429, "
        f"wall {wall:.1f}s (budget floor ~{floor:.1f}s), {calls / wall * 60:.0f} calls/min"
    )
    assert records == 30_000
    assert rejected <= 3
