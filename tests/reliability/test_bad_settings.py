"""Bad settings: each ends the program at once with one clear line naming the setting.

The console scripts run as subprocesses, as a user runs them: a non-zero exit, an ERROR
line naming the setting, no Python traceback, nothing on stdout, and no request beyond the
one that proves a token wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from reliability_data import SCHEMAS
from reliability_support import CANARY, LEDGER, Ctl, run_tap_cli, run_target_cli

from intercom_sandbox.server import RunningSandbox

WRONG_TOKEN = "wrong-token-4b1d0c7e"
SANDBOX = object()  # placeholder for the sandbox's base URL

# (name, the setting the message must name, config)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("missing token", "access_token", {"access_token": None, "api_url": SANDBOX}),
    ("wrong token (401)", "access_token", {"access_token": WRONG_TOKEN, "api_url": SANDBOX}),
    ("unknown region", "region", {"region": "mars", "api_url": None}),
    ("plain http to a remote host", "api_url", {"api_url": "http://example.com"}),
    ("negative max_workers", "max_workers", {"max_workers": -1, "api_url": SANDBOX}),
]
TAP_ONLY = [("malformed start_date", "start_date", {"start_date": "next tuesday"})]
TARGET_ONLY = [("malformed reconcile_timeout", "reconcile_timeout", {"reconcile_timeout": "soon"})]


def build(config: dict[str, Any], sandbox: RunningSandbox, tmp: Path) -> dict[str, Any]:
    out: dict[str, Any] = {
        "access_token": CANARY,
        "api_url": sandbox.base_url,
        "rejects_file": str(tmp / "rejects.jsonl"),
    }
    for key, value in config.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = sandbox.base_url if value is SANDBOX else value
    return out


def check(stderr: str, stdout: str, setting: str, code: int | None) -> None:
    assert code not in (0, None)
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if "ERROR" in line]
    named = [line for line in errors if setting in line]
    assert named, f"no ERROR line names {setting}:\n{stderr[-3000:]}"
    # The line naming the setting, and at most the SDK's "Config validation failed".
    assert len(errors) <= 2, stderr[-3000:]
    assert not stdout.strip()  # no record, no STATE
    assert WRONG_TOKEN not in stderr + stdout


def expected_calls(name: str) -> int:
    return 1 if name.startswith("wrong token") else 0


@pytest.mark.parametrize(
    ("name", "setting", "config"), [pytest.param(*c, id=c[0]) for c in CASES + TAP_ONLY]
)
def test_tap_bad_setting(
    name: str,
    setting: str,
    config: dict[str, Any],
    sandbox: RunningSandbox,
    ctl: Ctl,
    tmp_path: Path,
) -> None:
    ctl.reset_stats()
    full = build(config, sandbox, tmp_path)
    full.pop("rejects_file")
    full.setdefault("access_token", None)  # None: run_tap_cli leaves the key out
    full.setdefault("api_url", None)
    out = run_tap_cli(tmp_path, sandbox.base_url, **full)
    LEDGER.bad_inputs["settings"] += 1
    check(out.stderr, json.dumps(out.messages) if out.messages else "", setting, out.returncode)
    assert ctl.stats()["total"] <= expected_calls(name)


TARGET_CASES = [pytest.param(*case, id=case[0]) for case in CASES + TARGET_ONLY]


@pytest.mark.parametrize(("name", "setting", "config"), TARGET_CASES)
def test_target_bad_setting(
    name: str,
    setting: str,
    config: dict[str, Any],
    sandbox: RunningSandbox,
    ctl: Ctl,
    tmp_path: Path,
) -> None:
    ctl.reset_stats()
    lines = [
        SCHEMAS[1],
        {"type": "RECORD", "stream": "users", "record": {"email": "a@example.com"}},
        {"type": "STATE", "value": {"pos": 1}},
    ]
    out = run_target_cli(tmp_path, build(config, sandbox, tmp_path), lines)
    LEDGER.bad_inputs["settings"] += 1
    check(out.stderr, json.dumps(out.messages) if out.messages else "", setting, out.returncode)
    assert ctl.stats()["total"] <= expected_calls(name)
