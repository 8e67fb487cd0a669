"""STATE and crashes: STATE only after its records have outcomes; a re-run loses nothing."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError
from target_helpers import by_email, contacts, post, run_target, singer

from intercom_api import errors as api_errors
from intercom_sandbox.server import RunningSandbox

USERS = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": ["email"],
    "schema": {"properties": {"email": {"type": "string"}, "name": {"type": "string"}}},
}


def users(*emails: str, name: str = "N") -> list[dict[str, Any]]:
    return [
        {"type": "RECORD", "stream": "users", "record": {"email": e, "name": name}} for e in emails
    ]


def test_state_is_emitted_after_the_records_it_covers(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    text = singer(
        USERS,
        *users("a@example.com", "b@example.com"),
        {"type": "STATE", "value": {"at": 2}},
        *users("c@example.com"),
        {"type": "STATE", "value": {"at": 3}},
    )
    run = run_target(config, text)
    # One drain at the end of the input: the latest STATE, after all three records landed.
    assert run.states == [{"at": 3}]
    assert len(contacts(sandbox, "user")) == 3


def test_crash_then_rerun_loses_nothing_and_duplicates_nothing(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """Creates fail with 500 after every retry: the run stops with no STATE; the re-run of
    the same input (from the last STATE: the start) completes the job exactly once."""
    for email in ("a@example.com", "b@example.com"):
        post(api, "/contacts", {"role": "user", "email": email})
    post(api, "/_sandbox/faults", {"rates": {"500": 1.0}, "operations": ["CreateContact"]})
    text = singer(
        USERS,
        *users("a@example.com", "b@example.com", "c@example.com", "d@example.com", name="New"),
        {"type": "STATE", "value": {"at": 4}},
    )

    crashed = run_target(config, text, raises=api_errors.ServerError, batch_size_rows=2)
    assert crashed.states == []
    assert {c["email"]: c["name"] for c in contacts(sandbox, "user")} == {
        "a@example.com": "New",  # the first batch (updates) landed before the crash
        "b@example.com": "New",
    }

    post(api, "/_sandbox/faults", {"clear": True})
    rerun = run_target(config, text, batch_size_rows=2)
    assert rerun.states == [{"at": 4}]
    assert rerun.outcomes("users") == {"unchanged": 2, "created": 2}
    assert {e: len(cs) for e, cs in by_email(sandbox, "user").items()} == {
        f"{x}@example.com": 1 for x in "abcd"
    }


def test_faults_and_lost_responses_neither_lose_nor_duplicate(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """5xx before and after processing, dropped connections and cut bodies on every call."""
    rates = {"500": 0.08, "503": 0.08, "502": 0.08, "drop": 0.08, "truncate": 0.08}
    post(api, "/_sandbox/faults", {"rates": rates})
    emails = [f"u{i}@example.com" for i in range(40)]

    run = run_target(config, singer(USERS, *users(*emails)), max_retries=8)

    assert sum(sandbox.app.faults.injected.values()) > 0
    assert run.outcomes("users").get("rejected", 0) == 0
    assert sorted(by_email(sandbox, "user")) == sorted(emails)
    assert len(contacts(sandbox, "user")) == 40


def test_bad_token_fails_at_once_without_leaking_it(
    sandbox: RunningSandbox, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    secret = "not-the-right-token-7f3a"
    run = run_target(
        config,
        singer(USERS, *users("a@example.com")),
        raises=ConfigValidationError,
        access_token=secret,
    )
    assert "access_token" in str(run.error)
    assert secret not in str(run.error) and secret not in caplog.text
    assert run.states == []
