"""tap-intercom's peak memory at 100k and at 1,000,000 contacts: flat, not growing with the count.

For each count, a fresh sandbox runs in a subprocess, seeded at start (topping up a sandbox
that already served searches is much slower), and the tap runs as its own subprocess
(``tap-intercom --config ...``, streams users, leads and conversations); its stdout is
counted here as it streams and never kept. For each count it prints: records, wall time,
the tap's peak RSS (ru_maxrss; this script stays small, so the pre-exec image a child
inherits does not inflate it), its RSS sampled at 10% / 50% / 90% of the run, and the
sandbox's RSS for context. Figures only: nothing is asserted.

    python benchmarks/bench_memory.py                    # 100k, then 1,000,000 contacts
    python benchmarks/bench_memory.py --counts 10000,100000
    python benchmarks/bench_memory.py --workers 16
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import proc_memory_mb, run_tap, start_sandbox, write_tap_config

LEAD_SHARE = 5  # one contact in five is a lead, the rest users


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="100000,1000000", help="contacts, comma list")
    parser.add_argument("--workers", type=int, default=8, help="tap max_workers")
    args = parser.parse_args()
    counts = sorted(int(x) for x in args.counts.split(","))

    rows = []
    with TemporaryDirectory() as tmp:
        for count in counts:
            print(f"seeding a sandbox with {count:,} contacts ...", flush=True)
            t0 = time.monotonic()
            leads = count // LEAD_SHARE
            sandbox = start_sandbox(
                "--users", str(count - leads), "--leads", str(leads), "--random-seed", "5",
                timeout=3600,
            )  # fmt: skip
            print(f"  ready in {time.monotonic() - t0:.1f}s at {sandbox.base_url}", flush=True)
            try:
                config = write_tap_config(
                    Path(tmp) / "config.json", sandbox, max_workers=args.workers
                )
                r = run_tap(["--config", str(config)])
                sandbox_rss, _ = proc_memory_mb(sandbox.pid)
            finally:
                sandbox.stop()
            at = [r.rss_at(share) for share in (0.1, 0.5, 0.9)]
            n, peak, wall = r.records, r.maxrss, r.wall
            rows.append((count, n, peak))
            print(
                f"\n{count:,} contacts, {args.workers} workers: {n:,.0f} records\n"
                f"  wall          {wall:.1f} s ({n / wall:,.0f} records/s, "
                f"tap CPU {r.cpu:.1f} s)\n"
                f"  tap RSS       at 10% / 50% / 90% of the run: "
                f"{' / '.join(f'{x:.0f}' for x in at)} MB\n"
                f"  tap peak RSS  {peak:.1f} MB\n"
                f"  sandbox RSS   {sandbox_rss:.0f} MB (context, not the tap's)",
                flush=True,
            )
    if len(rows) > 1:
        (c0, n0, p0), (c1, n1, p1) = rows[0], rows[-1]
        print(
            f"\npeak RSS {p0:.1f} MB at {c0:,} contacts, {p1:.1f} MB at {c1:,}: "
            f"{p1 - p0:+.1f} MB for {n1 - n0:,.0f} more records"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
