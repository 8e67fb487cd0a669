"""Crashes: the tap and the target SIGKILLed at seeded random points, then re-run from the
last STATE they emitted, lose nothing and duplicate nothing.

- The tap is killed after N lines of its output were read; the re-run from its last STATE
  completes the set: the union of both outputs holds every record with its latest values.
- The target is killed by the sandbox right after its N-th write was applied and before the
  answer is sent (the worst moment: the write landed, the target never heard of it); the
  re-run from its last STATE leaves the sandbox as one clean run does, with no duplicate
  user or lead.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_data import (
    diff_states,
    duplicates,
    normal_state,
    prepare_target_base,
    resume_input,
    target_config,
    target_input,
)
from reliability_support import (
    CANARY,
    D0,
    LEDGER,
    TAP_STREAMS,
    Ctl,
    Output,
    run_tap,
    run_tap_cli,
    run_target,
    run_target_cli,
)

from intercom_sandbox.server import RunningSandbox, start

CRASH_POINTS = 10
SEED = 20250610
TARGET_INPUT = target_input(users=20, leads=8, events=6, state_every=4)
# Operations that change the workspace: where a killed target can leave half-done work.
WRITES = frozenset(
    {
        "CreateContact",
        "UpdateContact",
        "createOrUpdateCompany",
        "createDataEvent",
        "attachContactToACompany",
        "attachTagToContact",
        "createTag",
        "createDataAttribute",
    }
)


# -- the tap ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tap_world() -> Iterator[tuple[RunningSandbox, Output]]:
    sbx = start(tokens=[CANARY], random_seed=11, clock_start=D0)
    try:
        ctl = Ctl(sbx)
        ctl.clock(D0)
        ctl.seed(users=1200, leads=300, conversations=300, companies=8)
        yield sbx, run_tap(sbx.base_url)
    finally:
        sbx.stop()


def test_tap_killed_at_random_points_resumes_from_its_last_state(
    tap_world: tuple[RunningSandbox, Output], tmp_path: Path
) -> None:
    sbx, clean = tap_world
    total = len(clean.messages)
    points = sorted(random.Random(SEED).sample(range(1, total), CRASH_POINTS))
    resumed_from_state = 0
    for n in points:
        killed = run_tap_cli(tmp_path, sbx.base_url, kill_after_lines=n, name=f"tap-kill-{n}")
        assert killed.returncode in (-signal.SIGKILL, 0), killed.stderr[-2000:]
        assert len(killed.messages) >= n - 1  # what was read before the kill is kept
        state = killed.last_state
        resumed_from_state += state is not None
        resumed = run_tap(sbx.base_url, state=state)
        LEDGER.crash_points["tap"] += 1
        for stream in TAP_STREAMS:
            union = {**killed.latest(stream), **resumed.latest(stream)}
            lost = set(clean.ids(stream)) - set(union)
            LEDGER.records_lost += len(lost)
            LEDGER.records_checked[f"tap {stream} after a crash"] += len(union)
            assert not lost, f"killed after {n} lines: {len(lost)} {stream} records lost"
            assert union == clean.latest(stream), f"killed after {n} lines: {stream} values"
    # Most kills happen after a STATE: the resume is a real resume, not a full re-sync.
    assert resumed_from_state >= CRASH_POINTS // 2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_tap_stopped_by_a_signal_exits_non_zero_and_its_state_resumes(
    tap_world: tuple[RunningSandbox, Output], tmp_path: Path, sig: signal.Signals
) -> None:
    """A scheduler must not take an interrupted run for a success; what it wrote resumes."""
    sbx, clean = tap_world
    stopped = run_tap_cli(tmp_path, sbx.base_url, kill_after_lines=40, kill_signal=sig)
    assert stopped.returncode == 128 + sig, stopped.stderr[-2000:]
    assert "Traceback" not in stopped.stderr
    state = stopped.last_state
    assert state is not None, [m.get("type") for m in stopped.messages][-5:]
    resumed = run_tap(sbx.base_url, state=state)
    for stream in TAP_STREAMS:
        union = {**stopped.latest(stream), **resumed.latest(stream)}
        assert set(union) == set(clean.ids(stream)), stream


# -- the target -------------------------------------------------------------------------------
def clean_target_run(tmp: Path) -> tuple[dict[str, Any], int]:
    """The normalised state a clean run leaves, and how many writes it made."""
    sbx = start(tokens=[CANARY], random_seed=5, clock_start=D0)
    try:
        ctl = Ctl(sbx)
        prepare_target_base(ctl)
        ctl.reset_stats()
        run_target(target_config(sbx, tmp), TARGET_INPUT)
        ops = ctl.stats()["operations"]
        writes = sum(sum(by_status.values()) for op, by_status in ops.items() if op in WRITES)
        dump = ctl.dump()
    finally:
        sbx.stop()
    assert not duplicates(dump)
    return normal_state(dump), writes


def collect_server_errors(sbx: RunningSandbox) -> list[BaseException | None]:
    """Answers to a killed target fail to send and the server reports each (socketserver
    prints a traceback): collect them instead, for the test to check that nothing else did."""
    errors: list[BaseException | None] = []

    def handle_error(request: Any, client_address: Any) -> None:
        errors.append(sys.exc_info()[1])

    sbx.httpd.handle_error = handle_error  # type: ignore[method-assign]
    return errors


class KillAtWrite:
    """A sandbox observer that SIGKILLs the target right after its n-th applied write."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.writes = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.killed = False

    def arm(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc

    def __call__(self, operation_id: str, status: int, payload: bytes) -> None:
        if operation_id not in WRITES or status >= 300 or self.proc is None:
            return
        self.writes += 1
        if self.writes == self.n and not self.killed:
            self.killed = True
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.proc.pid, signal.SIGKILL)


def test_target_killed_at_random_writes_then_rerun_equals_one_clean_run(tmp_path: Path) -> None:
    """Half the runs are the console script as is (a short run emits STATE only at its end,
    so the re-run starts over); the other half drain and emit STATE every 10 ms, as a long
    run does every 5 minutes, so the re-run starts from a STATE in the middle."""
    want, writes = clean_target_run(tmp_path / "clean")
    assert writes > 3 * CRASH_POINTS
    points = sorted(random.Random(SEED).sample(range(1, writes), CRASH_POINTS))
    mid_run_states = 0
    for i, n in enumerate(points):
        work = tmp_path / f"kill-{n}"
        work.mkdir()
        sbx = start(tokens=[CANARY], random_seed=5, clock_start=D0)
        server_errors = collect_server_errors(sbx)
        try:
            ctl = Ctl(sbx)
            prepare_target_base(ctl)
            killer = KillAtWrite(n)
            sbx.app.observers.append(killer)
            config = target_config(sbx, work)
            drain = None if i % 2 == 0 else 10 / 60_000
            killed = run_target_cli(
                work, config, TARGET_INPUT, on_start=killer.arm, drain_every_minutes=drain
            )
            sbx.app.observers.remove(killer)
            assert killer.killed and killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
            mid_run_states += killed.last_state is not None
            rerun_input = resume_input(TARGET_INPUT, killed.last_state)
            target, out = run_target(config, rerun_input)
            dump = ctl.dump()
        finally:
            sbx.stop()
        LEDGER.crash_points["target"] += 1
        assert all(isinstance(e, ConnectionError) for e in server_errors), server_errors
        dups = duplicates(dump)
        LEDGER.duplicated_contacts += len(dups)
        assert not dups, f"killed at write {n}: duplicates {dups}"
        assert target.tally.rejected == 0
        assert out.last_state == TARGET_INPUT[-1]["value"]
        got = normal_state(dump)
        assert got == want, f"killed at write {n}:\n{diff_states(got, want)}"
    assert mid_run_states >= 2  # some re-runs resumed from the middle of the input
