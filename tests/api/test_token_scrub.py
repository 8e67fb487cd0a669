"""The access token never leaves the client, even when the API quotes it back.

The sandbox's ``echo_token`` fault answers a retryable 500 whose message holds the caller's
Authorization header verbatim (some APIs echo it). Whatever path the failure takes (retries
run out, or a write's outcome is unknown), the raised error's text, repr and message and
every log record keep the token out.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pytest
import requests

from intercom_api import ClientSettings, IntercomClient, errors
from intercom_api.ratelimit import RateLimiter
from intercom_sandbox.server import RunningSandbox

TOKEN = "sandbox-token"  # the token tests/conftest.py starts the sandbox with


def client_for(base_url: str) -> IntercomClient:
    settings = ClientSettings.from_config(
        {"access_token": TOKEN, "api_url": base_url, "max_retries": 2}
    )
    settings = dataclasses.replace(settings, backoff_base=0.001, backoff_cap=0.002)
    limiter = RateLimiter(settings.max_requests_per_minute, jitter=0.0)
    return IntercomClient(settings, limiter=limiter)


def echo_token(api: requests.Session, operation: str) -> None:
    body = {"clear": True, "rates": {"echo_token": 1.0}, "operations": [operation]}
    r = api.post(f"{api.base}/_sandbox/faults", json=body)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text


def texts(error: errors.IntercomError, caplog: pytest.LogCaptureFixture) -> dict[str, Any]:
    return {
        "str": str(error),
        "repr": repr(error),
        "message": error.message,
        "args": repr(error.args),
        "log": "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records),
    }


def test_the_sandbox_really_echoes_the_token(
    sandbox: RunningSandbox, api: requests.Session
) -> None:
    """Without this the test below would prove nothing."""
    echo_token(api, "listTags")
    r = api.get(f"{api.base}/tags")  # type: ignore[attr-defined]
    assert r.status_code == 500 and TOKEN in r.json()["errors"][0]["message"]


def test_final_error_after_retries_never_holds_the_token(
    sandbox: RunningSandbox, api: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(sandbox.base_url)
    echo_token(api, "listTags")
    with pytest.raises(errors.ServerError) as info:
        client.get("/tags")
    assert client.stats["retries"] == 2  # went through the "retrying ... after" log lines
    assert any("retrying GET /tags after http_500" in r.getMessage() for r in caplog.records)
    assert "Authorization: Bearer ***" in info.value.message  # scrubbed, not dropped
    for where, text in texts(info.value, caplog).items():
        assert TOKEN not in text, where


def test_ambiguous_write_error_never_holds_the_token(
    sandbox: RunningSandbox, api: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = client_for(sandbox.base_url)
    echo_token(api, "CreateContact")
    with pytest.raises(errors.AmbiguousWriteError) as info:
        client.post("/contacts", {"role": "lead", "email": "echo@example.com"})
    assert "Bearer ***" in info.value.message
    for where, text in texts(info.value, caplog).items():
        assert TOKEN not in text, where
