"""Real pipelines with Meltano and loaders/extractors we did not write, row for row."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import duckdb
import requests
from conftest import BIN, ROOT, TOKEN, needs_postgres

sys.path.insert(0, str(ROOT / "scripts"))
from demo import expected_counts

SEED = {"users": 300, "leads": 80, "companies": 20, "conversations": 60, "tickets": 12}


def _seed(sandbox, counts=SEED) -> dict:
    r = requests.post(f"{sandbox.base_url}/_sandbox/seed", json=counts, timeout=120)
    r.raise_for_status()
    return sandbox.backend.dump()


def _contacts(dump: dict, role: str | None = None) -> list[dict]:
    return [c for c in dump["contacts"]["contacts"] if role is None or c["role"] == role]


def test_sandbox_to_duckdb_lands_every_row(meltano, e2e_sandbox, tmp_path):
    dump = _seed(e2e_sandbox)
    meltano("run", "--full-refresh", "tap-intercom", "target-duckdb")
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    landed = {
        t: con.execute(f'select count(*) from intercom."{t}"').fetchone()[0]
        for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'intercom'"
        ).fetchall()
    }
    want = expected_counts(dump)
    assert {k: landed.get(k) for k in want} == want
    # The loader keeps one row per primary key: no duplicates either.
    dupes = con.execute("select count(*) - count(distinct id) from intercom.users").fetchone()[0]
    assert dupes == 0
    # What the loader took had the streams side by side (records of one stream after the
    # SCHEMA of another that started later): the tap's own output on the same data.
    config = tmp_path / "tap.json"
    config.write_text(json.dumps({"access_token": TOKEN, "api_url": e2e_sandbox.base_url}))
    out = subprocess.run(
        [str(BIN / "tap-intercom"), "--config", str(config)], capture_output=True, check=True
    ).stdout
    opened: list[str] = []
    together = False
    for m in map(json.loads, out.splitlines()):
        if m["type"] == "SCHEMA":
            opened.append(m["stream"])
        elif m["type"] == "RECORD":
            together = together or opened[-1] != m["stream"]
    assert together, opened


def test_incremental_state_is_kept_by_meltano_across_runs(meltano, e2e_sandbox, tmp_path):
    _seed(e2e_sandbox, {"users": 200, "leads": 40})
    suffix = uuid.uuid4().hex[:8]
    run = ("run", "--state-id-suffix", suffix, "tap-intercom", "target-jsonl")
    meltano(*run)
    first = (tmp_path / "jsonl" / "users.jsonl").read_text().splitlines()
    assert len(first) == 200
    state = meltano("state", "get", f"sandbox:tap-intercom-to-target-jsonl:{suffix}")
    assert "bookmarks" in state
    # Change one user, then run again: the run starts from Meltano's state.
    target = _contacts(e2e_sandbox.backend.dump(), "user")[0]
    e2e_sandbox.backend.clock.advance(3600)
    api = requests.Session()
    api.headers["Authorization"] = "Bearer sandbox-token"
    r = api.put(f"{e2e_sandbox.base_url}/contacts/{target['id']}", json={"name": "Renamed Later"})
    r.raise_for_status()
    for f in (tmp_path / "jsonl").iterdir():
        f.unlink()
    meltano(*run)
    second = [json.loads(x) for x in (tmp_path / "jsonl" / "users.jsonl").read_text().splitlines()]
    assert {u["id"]: u["name"] for u in second}.get(target["id"]) == "Renamed Later"
    assert len(second) < len(first) / 4  # an incremental run, not a full one


def _contact_by_email(dump: dict) -> dict[str, dict]:
    return {c["email"]: c for c in _contacts(dump)}


def test_csv_to_intercom_then_rerun_changes_nothing(meltano, e2e_sandbox):
    meltano("run", "--full-refresh", "tap-spreadsheets", "target-intercom")
    dump = e2e_sandbox.backend.dump()
    by_email = _contact_by_email(dump)
    users = [line.split(",")[0] for line in (ROOT / "examples/contacts/users.csv").open()][1:]
    leads = [line.split(",")[0] for line in (ROOT / "examples/contacts/leads.csv").open()][1:]
    assert {e: by_email[e]["role"] for e in users} == dict.fromkeys(users, "user")
    assert {e: by_email[e]["role"] for e in leads} == dict.fromkeys(leads, "lead")
    assert by_email["ada@example.com"]["external_id"] == "u-1001"
    assert by_email["ada@example.com"]["custom_attributes"]["plan"] == "enterprise"
    companies = {c["id"]: c["company_id"] for c in dump["companies"]["companies"]}
    assert sorted(companies.values()) == ["acme", "globex", "initech"]
    grace = e2e_sandbox.backend.contacts.get(by_email["grace@example.com"]["id"])
    rendered = e2e_sandbox.backend.contacts.render(grace)
    assert {companies[c["id"]] for c in rendered["companies"]["data"]} == {"acme", "globex"}

    meltano("run", "--full-refresh", "tap-spreadsheets", "target-intercom")
    again = e2e_sandbox.backend.dump()
    assert len(_contacts(again)) == len(_contacts(dump)) == len(users) + len(leads)
    assert len(again["companies"]["companies"]) == 3


@needs_postgres
def test_postgres_table_to_intercom(meltano, e2e_sandbox):
    import psycopg

    sql = (ROOT / "examples/crm.sql").read_text()
    with psycopg.connect("postgresql://postgres:postgres@127.0.0.1:5432/postgres") as conn:
        conn.execute(sql)
    meltano("run", "--full-refresh", "tap-postgres", "target-intercom--crm")
    by_email = _contact_by_email(e2e_sandbox.backend.dump())
    got = {
        e: (c["external_id"], c["name"], c["custom_attributes"].get("lifetime_value"))
        for e, c in by_email.items()
    }
    assert got == {
        "ines@example.net": ("c-2001", "Inès Dupont", 1200),
        "kenji@example.net": ("c-2002", "Kenji Watanabe", 300),
        "olu@example.net": ("c-2003", "Olúwaseun Adébáyọ̀", 5400),
    }


@needs_postgres
def test_sandbox_to_postgres_warehouse(meltano, e2e_sandbox):
    import psycopg

    dump = _seed(e2e_sandbox, {"users": 150, "leads": 30, "conversations": 20})
    schema = f"e2e_{uuid.uuid4().hex[:8]}"
    meltano.env["TARGET_POSTGRES_DEFAULT_TARGET_SCHEMA"] = schema
    try:
        meltano("run", "--full-refresh", "tap-intercom", "target-postgres")
        with psycopg.connect("postgresql://postgres:postgres@127.0.0.1:5432/postgres") as conn:
            counts = {
                t: conn.execute(f'select count(*) from "{schema}"."{t}"').fetchone()[0]
                for t in ("users", "leads", "conversations")
            }
    finally:
        with psycopg.connect(
            "postgresql://postgres:postgres@127.0.0.1:5432/postgres", autocommit=True
        ) as conn:
            conn.execute(f'drop schema if exists "{schema}" cascade')
    assert counts == {
        "users": len(_contacts(dump, "user")),
        "leads": len(_contacts(dump, "lead")),
        "conversations": len(dump["conversations"]["conversations"]),
    }
