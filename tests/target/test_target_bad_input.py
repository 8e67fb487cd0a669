"""Bad input: every bad line is rejected with its reason, the good records land, STATE goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests
from target_helpers import DATA, by_email, contacts, create_attribute, post, run_target, singer

from intercom_sandbox.server import RunningSandbox
from target_intercom.outcomes import TooManyRejectsError

BAD = DATA / "bad_input.singer"


def test_bad_input_is_rejected_and_good_records_land(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    create_attribute(api, "seats", "integer")  # exists, but the record sends text
    # An attribute with options: Intercom refuses a value that is not one of them.
    post(
        api,
        "/data_attributes",
        {
            "name": "tier",
            "model": "contact",
            "data_type": "options",
            "options": [{"value": "gold"}, {"value": "silver"}],
        },
    )

    run = run_target(config, BAD)

    assert sorted(by_email(sandbox, "user")) == ["ok1@example.com", "ok2@example.com"]
    assert contacts(sandbox, "lead") == []
    reasons = {r["line_number"]: r["reason"] for r in run.rejects}
    assert "not valid JSON" in reasons[3]
    assert "does not match its stream's SCHEMA" in reasons[4] and "age" in reasons[4]
    assert "missing key" in reasons[5]
    assert "not a valid e-mail address" in reasons[6]
    assert "unknown custom attribute(s) favourite_colour" in reasons[7]
    assert "create_custom_attributes" in reasons[7]  # ... and how to fix it
    assert "company 'no-such-company' does not exist" in reasons[8]
    assert "before any SCHEMA" in reasons[9]
    assert "unknown stream 'orders'" in reasons[11] and "__alias__" in reasons[11]
    assert "seats='many' is not a valid integer" in reasons[12]  # checked before sending
    assert "integer contact attribute in Intercom" in reasons[12]
    assert "Intercom refused" in reasons[13]
    assert set(reasons) == {3, 4, 5, 6, 7, 8, 9, 11, 12, 13}

    # Nothing is lost: the record as received (or the raw line) is in the rejects file.
    assert run.reject_at(3)["line"].startswith('{"type": "RECORD", "stream": "users"')
    assert run.reject_at(3)["record"] is None
    assert run.reject_at(6)["record"] == {"email": "not-an-email", "name": "Bad Email"}
    assert run.reject_at(11)["stream"] == "orders"
    # A refusal by Intercom carries its error code, HTTP status and request id.
    refused = run.reject_at(13)
    assert refused["status"] == 400 and refused["error_code"] and refused["request_id"]

    # One outcome per record, and the STATE after the last line still comes out.
    assert run.outcomes("users") == {"created": 2, "rejected": 7}
    assert run.outcomes("leads") == run.outcomes("orders") == {"rejected": 1}
    assert run.outcomes("(unreadable lines)") == {"rejected": 1}
    assert run.states == [{"bookmarks": {"users": 14}}]


def test_rejects_file_lines_are_json_with_every_field(
    config: dict[str, Any], tmp_path: Path
) -> None:
    run = run_target(config, singer("{oops", {"type": "NOPE"}, {"no_type": 1}, "[1, 2]"))

    lines = Path(config["rejects_file"]).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["line_number"] for r in rows] == [1, 2, 3, 4]
    for row in rows:
        assert set(row) >= {"time", "run_id", "stream", "reason", "error_code", "request_id"}
        assert row["line"]  # the raw line, to fix and replay
    assert "unknown message type 'NOPE'" in rows[1]["reason"]
    assert "no 'type' key" in rows[2]["reason"]
    assert "not an object" in rows[3]["reason"]
    assert run.count("(unreadable lines)", "rejected") == 4


def test_invalid_schema_rejects_its_records_with_the_cause(config: dict[str, Any]) -> None:
    text = singer(
        {"type": "SCHEMA", "stream": "users", "schema": {"type": "object"}, "key_properties": []},
        {"type": "RECORD", "stream": "users", "record": {"email": "a@example.com"}},
    )
    run = run_target(config, text)

    assert "invalid SCHEMA message" in run.reject_at(1)["reason"]
    assert "has no valid SCHEMA" in run.reject_at(2)["reason"]
    assert run.reject_at(2)["record"] == {"email": "a@example.com"}


def test_max_rejects_fails_the_run_without_state(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    users = {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": [],
        "schema": {"properties": {"email": {"type": "string"}}},
    }
    text = singer(
        users,
        {"type": "RECORD", "stream": "users", "record": {"email": "bad-1"}},
        {"type": "RECORD", "stream": "users", "record": {"email": "bad-2"}},
        {"type": "RECORD", "stream": "users", "record": {"email": "fine@example.com"}},
        {"type": "STATE", "value": {"n": 3}},
    )
    # Two rejects are within max_rejects=2...
    ok = run_target(config, text, max_rejects=2)
    assert ok.states == [{"n": 3}]
    # ... not within max_rejects=1: the run stops, and no STATE covers the batch.
    failed = run_target(config, text, raises=TooManyRejectsError, max_rejects=1)
    assert "max_rejects=1" in str(failed.error)
    assert failed.states == []
    assert len(failed.rejects) == 2  # the rejects up to the failure are on file


def test_unknown_stream_can_be_aliased_with_stream_maps(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    text = singer(
        {
            "type": "SCHEMA",
            "stream": "public-crm_customers",
            "key_properties": ["email"],
            "schema": {"properties": {"email": {"type": "string"}, "name": {"type": "string"}}},
        },
        {
            "type": "RECORD",
            "stream": "public-crm_customers",
            "record": {"email": "mapped@example.com", "name": "Mapped"},
        },
    )
    maps = {"stream_maps": {"public-crm_customers": {"__alias__": "users"}}}

    run = run_target(config, text, **maps)

    assert run.outcomes("users") == {"created": 1}
    assert by_email(sandbox, "user")["mapped@example.com"][0]["name"] == "Mapped"
