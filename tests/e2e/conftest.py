"""End-to-end pipelines through Meltano, against an in-process sandbox.

Meltano runs from the repository (its project), installs the plugins once per session, and
each test points the plugins at its own sandbox through environment variables.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from intercom_sandbox.server import RunningSandbox, start

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TOKEN = "sandbox-token"
PLUGINS = [
    "tap-intercom",
    "target-intercom",
    "target-intercom--crm",
    "target-duckdb",
    "target-jsonl",
    "target-postgres",
    "tap-spreadsheets",
    "tap-postgres",
]


def postgres_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=2):
            return True
    except OSError:
        return False


needs_postgres = pytest.mark.skipif(
    not postgres_answers(), reason="no PostgreSQL answers on 127.0.0.1:5432"
)


class Meltano:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, check: bool = True, timeout: float = 600) -> str:
        result = subprocess.run(
            [str(BIN / "meltano"), *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"meltano {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}"
            )
        return result.stdout + result.stderr


@pytest.fixture(scope="session")
def meltano_installed() -> None:
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    Meltano(env)("install", *PLUGINS, timeout=900)


@pytest.fixture
def e2e_sandbox() -> Iterator[RunningSandbox]:
    sbx = start(tokens=[TOKEN], random_seed=3)
    try:
        yield sbx
    finally:
        sbx.stop()


@pytest.fixture
def meltano(meltano_installed: None, e2e_sandbox: RunningSandbox, tmp_path: Path) -> Meltano:
    """Meltano with the sandbox environment pointed at this test's sandbox and tmp outputs."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "MELTANO_ENVIRONMENT": "sandbox",
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "INTERCOM_API_URL": e2e_sandbox.base_url,
        "INTERCOM_ACCESS_TOKEN": TOKEN,
        "TARGET_DUCKDB_FILEPATH": str(tmp_path / "warehouse.duckdb"),
        "TARGET_JSONL_DESTINATION_PATH": str(tmp_path / "jsonl"),
        "TARGET_INTERCOM_REJECTS_FILE": str(tmp_path / "rejects.jsonl"),
    }
    (tmp_path / "jsonl").mkdir()
    return Meltano(env)
