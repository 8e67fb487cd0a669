"""What each supported Python (3.10-3.13) and each program's --version / --about must show.

These run in the multi-Python fast run (``make test-pythons``) as well as the default one.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tap_intercom.options import parse_ts

DIST = "intercom-singer"
BIN = Path(sys.executable).parent
TESTED = ["3.10", "3.11", "3.12", "3.13"]


@pytest.mark.parametrize(
    "text",
    [
        "2020-01-01T00:00:00Z",  # Meltano's date_iso8601 and the README's examples
        "2020-01-01T00:00:00z",
        "2020-01-01T00:00:00+00:00",
        "2020-01-01T01:00:00+01:00",
        "2020-01-01T00:00:00.000000Z",
        "2020-01-01T00:00:00",
        "2020-01-01",
    ],
)
def test_start_date_forms_parse_on_every_python(text):
    # Python 3.10's datetime.fromisoformat refuses a trailing "Z": the tap must not.
    assert parse_ts(text) == 1_577_836_800


def test_python_running_the_tests_is_one_we_say_we_support():
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in TESTED


@pytest.mark.parametrize("program", ["tap-intercom", "target-intercom"])
def test_version_shows_the_distribution_version(program):
    out = subprocess.run(
        [str(BIN / program), "--version"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"{program} v{version(DIST)},"), out.stdout


@pytest.mark.parametrize("program", ["tap-intercom", "target-intercom"])
def test_about_shows_the_version_and_the_tested_pythons(program):
    out = subprocess.run(
        [str(BIN / program), "--about", "--format=json"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    about = json.loads(out.stdout)
    assert about["name"] == program
    assert about["version"] == version(DIST)
    assert about["supported_python_versions"] == TESTED
    text = subprocess.run(
        [str(BIN / program), "--about"], capture_output=True, text=True, timeout=60
    ).stdout
    assert f"Version: {version(DIST)}" in text
