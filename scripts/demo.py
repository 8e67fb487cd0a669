"""`make demo`: a seeded intercom-sandbox -> tap-intercom -> DuckDB, with Meltano.

Starts a sandbox on a free loopback port with a realistic seeded workspace, installs the
Meltano plugins the pipeline needs, runs `meltano run tap-intercom target-duckdb`, then
prints every table that landed with its row count (checked against what the sandbox holds)
and a few rows. Embedded defaults only: no account, no token, no setting to provide.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DB = ROOT / "output" / "warehouse.duckdb"
SEED = {"users": 400, "leads": 120, "companies": 40, "conversations": 150, "tickets": 30}
TOKEN = "sandbox-token"


def start_sandbox() -> tuple[subprocess.Popen[str], str]:
    args = [str(BIN / "intercom-sandbox"), "--port", "0", "--token", TOKEN, "--random-seed", "7"]
    for kind, n in SEED.items():
        args += [f"--{kind}", str(n)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    url = proc.stdout.readline().strip()
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"demo: the sandbox did not start (it printed {url!r})")
    return proc, url


def meltano(*args: str, env: dict[str, str]) -> None:
    cmd = [str(BIN / "meltano"), *args]
    print(f"$ meltano {' '.join(args)}", flush=True)
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def expected_counts(dump: dict) -> dict[str, int]:
    """Rows each stream must land, computed from the sandbox's own state (GET /_sandbox/state).

    The end-to-end tests check the same counts.
    """
    contacts = dump["contacts"]["contacts"]
    ws = dump["workspace"]
    return {
        "users": sum(c["role"] == "user" for c in contacts),
        "leads": sum(c["role"] == "lead" for c in contacts),
        "conversations": len(dump["conversations"]["conversations"]),
        "tickets": len(dump["tickets"]["tickets"]),
        "admins": len(ws["admins"]),
        "teams": len(ws["teams"]),
        "tags": len(ws["tags"]),
        "segments": len(ws["segments"]),
    }


def show(db: Path, expected: dict[str, int]) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    tables = [
        r[0]
        for r in con.execute(
            "select table_name from information_schema.tables "
            "where table_schema = 'intercom' order by table_name"
        ).fetchall()
    ]
    mismatches = 0
    print(f"\nWhat landed in {db.relative_to(ROOT)} (schema intercom):\n")
    for table in tables:
        n = con.execute(f'select count(*) from intercom."{table}"').fetchone()[0]
        check = ""
        if table in expected:
            ok = n == expected[table]
            mismatches += not ok
            check = f"  (sandbox has {expected[table]}: {'ok' if ok else 'MISMATCH'})"
        print(f"== {table}: {n} rows{check}")
        cols = [c[0] for c in con.execute(f'describe intercom."{table}"').fetchall()]
        keep = [
            c
            for c in ("id", "name", "email", "role", "title", "state", "updated_at", "created_at")
            if c in cols
        ][:5] or cols[:5]
        rows = con.execute(
            f'select {", ".join(chr(34) + c + chr(34) for c in keep)} from intercom."{table}" '
            "limit 3"
        ).fetchall()
        print("   " + " | ".join(keep))
        for row in rows:
            print("   " + " | ".join(str(v)[:40] for v in row))
        print()
    con.close()
    return mismatches


def main() -> int:
    DB.parent.mkdir(exist_ok=True)
    DB.unlink(missing_ok=True)
    proc, url = start_sandbox()
    print(f"intercom-sandbox serving a seeded workspace at {url} ({SEED})")
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MELTANO_ENVIRONMENT": "sandbox",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "INTERCOM_API_URL": url,
        "INTERCOM_ACCESS_TOKEN": TOKEN,
    }
    try:
        t0 = time.monotonic()
        meltano("install", "tap-intercom", "target-duckdb", env=env)
        meltano("run", "--full-refresh", "tap-intercom", "target-duckdb", env=env)
        print(f"pipeline finished in {time.monotonic() - t0:.1f} s")
        import requests

        dump = requests.get(f"{url}/_sandbox/state", timeout=60).json()
        mismatches = show(DB, expected_counts(dump))
    finally:
        proc.terminate()
        proc.wait(10)
    if mismatches:
        print(f"demo: {mismatches} table(s) do not match the sandbox", file=sys.stderr)
        return 1
    print("Same pipeline on a real workspace: see README, 'Real Intercom'.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
