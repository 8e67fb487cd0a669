"""Shared fixtures: a sandbox started in-process on port 0 for each test that asks for one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from intercom_sandbox.server import RunningSandbox, start

TOKEN = "sandbox-token"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """An empty sandbox; the test seeds what it needs."""
    sbx = start(tokens=[TOKEN], random_seed=1)
    try:
        yield sbx
    finally:
        sbx.stop()


@pytest.fixture
def api(sandbox: RunningSandbox) -> Iterator[requests.Session]:
    """A raw HTTP session on the sandbox with auth; ``api.base`` is the base URL."""
    s = requests.Session()
    s.headers.update(
        {
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/json",
            "Intercom-Version": "2.16",
        }
    )
    s.base = sandbox.base_url  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.close()
