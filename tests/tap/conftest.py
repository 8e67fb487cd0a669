"""Fixtures for tap tests (helpers live in tap_support.py)."""

from __future__ import annotations

import pytest
import requests
from tap_support import SandboxControl


@pytest.fixture
def ctl(api: requests.Session) -> SandboxControl:
    return SandboxControl(api)
