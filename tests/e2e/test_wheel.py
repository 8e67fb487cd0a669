"""The installed package works outside the repository: wheel -> fresh venv -> tap runs.

Builds the wheel, installs it (with its dependencies) in a new virtual environment, and from
another directory runs `tap-intercom --about`, `--discover` (the schema files must ship in
the wheel) and a short sync against a sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).parent / "uv"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """bin/ of a fresh venv holding only the built wheel and its dependencies."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(work / "dist"),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    wheels = list((work / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    if UV.exists():
        subprocess.run(
            [str(UV), "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120
        )
        subprocess.run(
            [str(UV), "pip", "install", "-q", "--python", str(venv / "bin/python"), str(wheels[0])],
            check=True,
            timeout=600,
        )
    else:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        subprocess.run(
            [str(venv / "bin/python"), "-m", "pip", "install", "-q", str(wheels[0])],
            check=True,
            timeout=600,
        )
    return venv / "bin"


def _run(bin_dir: Path, cwd: Path, *args: str, stdin: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [str(bin_dir / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_installed_tap_runs_outside_the_repository(installed, sandbox, tmp_path):
    import requests

    requests.post(
        f"{sandbox.base_url}/_sandbox/seed", json={"users": 20, "leads": 5}, timeout=60
    ).raise_for_status()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed package, not the checkout, must be what runs.
    assert not (elsewhere / "schemas").exists()
    about = json.loads(_run(installed, elsewhere, "tap-intercom", "--about", "--format=json"))
    assert about["name"] == "tap-intercom"
    config = elsewhere / "config.json"
    config.write_text(
        json.dumps(
            {
                "access_token": "sandbox-token",
                "api_url": sandbox.base_url,
                "start_date": "2020-01-01T00:00:00Z",
            }
        )
    )
    catalog = json.loads(
        _run(installed, elsewhere, "tap-intercom", "--config", str(config), "--discover")
    )
    streams = {s["tap_stream_id"]: s for s in catalog["streams"]}
    assert {"users", "leads", "conversations"} <= set(streams)
    assert "email" in streams["users"]["schema"]["properties"]
    for s in catalog["streams"]:
        selected = s["tap_stream_id"] in ("users", "leads")
        for md in s["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = selected
    cat_file = elsewhere / "catalog.json"
    cat_file.write_text(json.dumps(catalog))
    out = _run(
        installed, elsewhere, "tap-intercom", "--config", str(config), "--catalog", str(cat_file)
    )
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    counts: dict[str, int] = {}
    for m in records:
        if m["type"] == "RECORD":
            counts[m["stream"]] = counts.get(m["stream"], 0) + 1
    assert counts == {"users": 20, "leads": 5}
    assert shutil.which("tap-intercom", path=str(installed))
