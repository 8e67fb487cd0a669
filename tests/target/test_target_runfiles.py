"""The rejects and results files hold personal data: owner-only, one file per run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from target_helpers import run_target, singer

from intercom_sandbox.server import RunningSandbox

SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": [],
    "schema": {"properties": {"email": {"type": "string"}}},
}
BAD = singer(SCHEMA, {"type": "RECORD", "stream": "users", "record": {"email": "bad"}})


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_rejects_file_is_owner_only(config: dict[str, Any]) -> None:
    run_target(config, BAD)

    assert Path(config["rejects_file"]).stat().st_mode & 0o777 == 0o600


def test_each_run_gets_its_own_file_and_earlier_ones_are_kept(
    sandbox: RunningSandbox, config: dict[str, Any], tmp_path: Path
) -> None:
    path = Path(config["rejects_file"])
    results = tmp_path / "results.jsonl"
    path.write_text('{"run_id": "from-an-old-version", "reason": "x"}\n')
    path.chmod(0o644)

    first = run_target(config, BAD, results_file=str(results))
    second = run_target(config, BAD, results_file=str(results))

    assert [r["run_id"] for r in rows(path)] == [second.target.run_id]
    assert [r["run_id"] for r in rows(results)] == [second.target.run_id]
    kept = {p.name: rows(p)[0]["run_id"] for p in tmp_path.iterdir() if p.name.endswith(".jsonl")}
    assert kept == {
        "target.rejects.jsonl": second.target.run_id,
        f"target.rejects.{first.target.run_id}.jsonl": first.target.run_id,
        "target.rejects.from-an-old-version.jsonl": "from-an-old-version",
        "results.jsonl": second.target.run_id,
        f"results.{first.target.run_id}.jsonl": first.target.run_id,
    }
    for name in kept:
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_a_run_without_rejects_leaves_no_file(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    good = singer(SCHEMA, {"type": "RECORD", "stream": "users", "record": {"email": "a@b.co"}})

    run = run_target(config, good)

    assert not Path(config["rejects_file"]).exists()
    assert run.target.summary()["rejects_file"] is None
