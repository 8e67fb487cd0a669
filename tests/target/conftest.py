"""Fixtures for target tests: a target config pointing at the in-process sandbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from target_helpers import TOKEN

from intercom_sandbox.server import RunningSandbox


@pytest.fixture
def config(sandbox: RunningSandbox, tmp_path: Path) -> dict[str, Any]:
    """Target config on the sandbox; rejects go to a file under tmp_path."""
    return {
        "access_token": TOKEN,
        "api_url": sandbox.base_url,
        "rejects_file": str(tmp_path / "target.rejects.jsonl"),
        "max_retries": 2,
    }
