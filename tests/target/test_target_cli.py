"""The ``target-intercom`` program: --about, a real run from a file, config errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from target_helpers import DATA, TOKEN, by_email

from intercom_sandbox.server import RunningSandbox

TARGET = [sys.executable, "-m", "target_intercom.target"]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TARGET, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def test_about_documents_every_setting() -> None:
    about = json.loads(run_cli("--about", "--format=json").stdout)
    props = about["settings"]["properties"]
    for name in ("access_token", "region", "api_url", "max_workers", "dry_run", "rejects_file",
                 "max_rejects", "extra_columns", "create_custom_attributes", "lead_mode",
                 "delete_mode", "write_mode", "stream_write_modes", "clear_on_null",
                 "results_file", "create_lead_key_attribute", "lead_key_attribute"):  # fmt: skip
        assert props[name].get("description"), name
    assert props["access_token"].get("secret") is True
    assert "load_method" not in props  # every stream is written by key
    assert "lead_marker_attribute" not in props  # replaced (asked for no consent)


def test_run_from_a_file(sandbox: RunningSandbox, tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "access_token": TOKEN,
                "api_url": sandbox.base_url,
                "rejects_file": str(tmp_path / "r.jsonl"),
            }
        )
    )
    done = run_cli("--config", str(config), "--input", str(DATA / "users_upsert.singer"))

    assert done.returncode == 0, done.stderr
    states = [json.loads(line) for line in done.stdout.splitlines()]
    assert states == [{"bookmarks": {"users": {"replication_key_value": 5}}}]
    assert "Summary of the run" in done.stderr and "users: 5 records" in done.stderr
    assert TOKEN not in done.stderr + done.stdout
    assert len(by_email(sandbox, "user")) == 4


def test_config_error_names_the_setting(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"access_token": TOKEN, "api_url": "http://example.com"}))

    done = run_cli("--config", str(config), stdin="")

    assert done.returncode != 0
    assert "api_url must use https://" in done.stderr
    assert TOKEN not in done.stderr


def test_config_schema_is_valid_for_any_settings(tmp_path: Path) -> None:
    """Settings with wrong values are refused before any record is read."""
    config: dict[str, Any] = {"access_token": TOKEN, "lead_mode": "sometimes"}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))

    done = run_cli("--config", str(path), stdin="")

    assert done.returncode != 0
    assert "lead_mode" in done.stderr
