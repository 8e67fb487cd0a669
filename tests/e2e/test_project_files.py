"""The user-facing lists of settings (meltano.yml, README) match the plugins' code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts/plugin_settings.py"), mode],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_meltano_yml_declares_every_setting_with_its_kind():
    result = _run("check-meltano")
    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_settings_tables_are_generated_from_about():
    result = _run("check-readme")
    assert result.returncode == 0, (
        result.stdout + result.stderr + "\nrun: .venv/bin/python scripts/plugin_settings.py readme"
    )
