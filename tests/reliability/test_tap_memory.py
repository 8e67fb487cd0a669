"""Memory: the tap's peak memory does not grow with the number of records it syncs.

A cheap check (benchmarks/bench_memory.py measures 100k and 1M contacts): the peak RSS of a
``tap-intercom`` sync of N contacts and of 3N differ by a small margin. A tap keeping what it
emitted would need 1-2 KB per record, 12-24 MB more for the 2N extra records here.
"""

from __future__ import annotations

from pathlib import Path

from reliability_support import LEDGER, Ctl, tap_peak_memory

from intercom_sandbox.server import RunningSandbox

N = 6000
MARGIN_MB = 8.0
WORKERS = 2  # few chains, so the pages in flight are alike at N and at 3N


def test_peak_tap_memory_at_n_and_3n_contacts_differ_by_a_small_margin(
    sandbox: RunningSandbox, ctl: Ctl, tmp_path: Path
) -> None:
    ctl.seed(users=N * 4 // 5, leads=N // 5)
    small_records, small_mb = tap_peak_memory(tmp_path, sandbox.base_url, max_workers=WORKERS)
    ctl.seed(users=2 * N * 4 // 5, leads=2 * N // 5)
    big_records, big_mb = tap_peak_memory(tmp_path, sandbox.base_url, max_workers=WORKERS)
    print(
        f"\ntap peak RSS: {small_mb:.1f} MB for {small_records} records, "
        f"{big_mb:.1f} MB for {big_records} records"
    )
    LEDGER.records_checked["tap memory runs"] += small_records + big_records
    assert (small_records, big_records) == (N, 3 * N)
    assert big_mb - small_mb < MARGIN_MB
