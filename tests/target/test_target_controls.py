"""The controls a reverse-ETL user expects (issue 13): write_mode per run and per stream,
clear_on_null, results_file, and a dry run that emits no STATE and counts like a real run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from target_helpers import (
    DATA,
    TOKEN,
    by_email,
    contacts,
    create_attribute,
    post,
    run_target,
    schema_message,
    singer,
)

from intercom_sandbox.server import RunningSandbox, start

USERS_SCHEMA = schema_message(
    "users",
    ["email"],
    {
        "email": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
        "plan": {"type": ["string", "null"]},
    },
)
COMPANIES_SCHEMA = {
    "type": "SCHEMA",
    "stream": "companies",
    "key_properties": ["company_id"],
    "schema": {"properties": {"company_id": {"type": "string"}, "name": {"type": "string"}}},
}


def user(email: str, stream: str = "users", **fields: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": {"email": email, **fields}}


def company(company_id: str, name: str) -> dict[str, Any]:
    record = {"company_id": company_id, "name": name}
    return {"type": "RECORD", "stream": "companies", "record": record}


def ops(sandbox: RunningSandbox) -> dict[str, dict[str, int]]:
    return sandbox.app.stats.snapshot()["operations"]


# -- dry run ------------------------------------------------------------------------------------
def test_dry_run_emits_no_state(sandbox: RunningSandbox, config: dict[str, Any]) -> None:
    """Meltano stores every STATE: one from a dry run made the next real run skip rows."""
    text = singer(
        USERS_SCHEMA, user("a@example.com", name="A"), {"type": "STATE", "value": {"n": 1}}
    )

    dry = run_target(config, text, dry_run=True)

    assert dry.states == []
    assert dry.target.summary()["state_emitted"] is False
    assert contacts(sandbox) == []
    real = run_target(config, text)
    assert real.states == [{"n": 1}]
    assert real.outcomes("users") == dry.outcomes("users") == {"created": 1}


@pytest.mark.parametrize(
    ("source", "extra"),
    [
        ("users_upsert.singer", {}),
        ("companies_events.singer", {}),
        ("leads.singer", {}),
        ("users_upsert.singer", {"write_mode": "update_only"}),
        ("companies_events.singer", {"write_mode": "create_only"}),
    ],
)
def test_a_dry_run_counts_what_the_real_run_then_does(
    sandbox: RunningSandbox,
    api: requests.Session,
    config: dict[str, Any],
    source: str,
    extra: dict[str, Any],
) -> None:
    post(api, "/contacts", {"role": "user", "email": "ada@example.com", "name": "Ada"})
    post(api, "/contacts", {"role": "user", "external_id": "u-1002", "email": "g@example.com"})
    post(api, "/companies", {"company_id": "acme", "name": "Old Acme"})

    dry = run_target(config, DATA / source, dry_run=True, **extra)
    real = run_target(config, DATA / source, **extra)

    assert dry.target.summary()["streams"] == real.target.summary()["streams"]
    assert dry.target.summary()["notes"] == real.target.summary()["notes"]


# -- write_mode ---------------------------------------------------------------------------------
def test_update_only_creates_nothing_for_unmatched_rows(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any], tmp_path: Path
) -> None:
    ada = post(api, "/contacts", {"role": "user", "email": "ada@example.com", "name": "Ada"})
    post(api, "/companies", {"company_id": "acme", "name": "Acme"})
    sandbox.app.stats.reset()
    text = singer(
        COMPANIES_SCHEMA,
        company("acme", "Acme Inc"),
        company("globex", "Globex"),
        USERS_SCHEMA,
        user("ada@example.com", name="Ada K"),
        user("new@example.com", name="New"),
    )
    results = tmp_path / "results.jsonl"

    run = run_target(config, text, write_mode="update_only", results_file=str(results))

    assert run.outcomes("users") == {"updated": 1, "skipped_no_match": 1}
    assert run.outcomes("companies") == {"updated": 1, "skipped_no_match": 1}
    assert [(c["id"], c["name"]) for c in contacts(sandbox)] == [(ada["id"], "Ada K")]
    assert "CreateContact" not in ops(sandbox)
    companies = sandbox.backend.dump()["companies"]["companies"]
    assert [c["company_id"] for c in companies] == ["acme"]
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    skipped = [r for r in rows if r["outcome"] == "skipped_no_match"]  # listed
    assert {json.dumps(r["keys"]) for r in skipped} == {
        '{"company_id": "globex"}',
        '{"email": "new@example.com"}',
    }


def test_create_only_changes_nothing_for_matched_rows(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    post(api, "/contacts", {"role": "user", "email": "ada@example.com", "name": "Ada"})
    post(api, "/companies", {"company_id": "acme", "name": "Acme"})
    post(api, "/_sandbox/config", {"search_lag_seconds": 3600})
    post(api, "/contacts", {"role": "user", "email": "lag@example.com", "name": "L"})
    before = {c["email"]: c for c in contacts(sandbox)}
    sandbox.app.stats.reset()
    text = singer(
        COMPANIES_SCHEMA,
        company("acme", "Renamed"),
        company("globex", "Globex"),
        USERS_SCHEMA,
        user("ada@example.com", name="Renamed"),
        user("lag@example.com", name="Renamed"),  # not searchable yet: the 409 says it exists
        user("new@example.com", name="New"),
    )

    run = run_target(config, text, write_mode="create_only")

    assert run.outcomes("users") == {"created": 1, "skipped_exists": 2}
    assert run.outcomes("companies") == {"created": 1, "skipped_exists": 1}
    after = {c["email"]: c for c in contacts(sandbox)}
    for email in before:
        assert after[email] == before[email]  # not even updated_at moved
    assert after["new@example.com"]["name"] == "New"
    assert ops(sandbox)["CreateContact"] == {"200": 1, "409": 1}
    assert "UpdateContact" not in ops(sandbox)
    companies = {c["company_id"]: c for c in sandbox.backend.dump()["companies"]["companies"]}
    assert companies["acme"]["name"] == "Acme" and companies["globex"]["name"] == "Globex"


def test_write_mode_per_stream_and_per_aliased_input_stream(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """Two CRM tables aliased to users: one only updates, the other only creates."""
    post(api, "/contacts", {"role": "user", "email": "old@example.com", "name": "Old"})
    schema = {**USERS_SCHEMA}
    text = singer(
        {**schema, "stream": "crm_changes"},
        {**schema, "stream": "crm_signups"},
        user("old@example.com", "crm_changes", name="Changed"),
        user("ghost@example.com", "crm_changes", name="Ghost"),
        user("old@example.com", "crm_signups", name="Signup"),
        user("fresh@example.com", "crm_signups", name="Fresh"),
    )
    maps = {
        "crm_changes": {"__alias__": "users"},
        "crm_signups": {"__alias__": "users"},
    }
    modes = {"crm_changes": "update_only", "crm_signups": "create_only"}

    run = run_target(config, text, stream_maps=maps, stream_write_modes=modes)

    names = {c["email"]: c["name"] for c in contacts(sandbox)}
    assert names == {"old@example.com": "Changed", "fresh@example.com": "Fresh"}
    assert run.outcomes("users") == {
        "created": 1,
        "updated": 1,
        "skipped_no_match": 1,
        "skipped_exists": 1,
    }


# -- clear_on_null ------------------------------------------------------------------------------
@pytest.mark.parametrize("clear", [True, False])
def test_clear_on_null_clears_a_field_and_its_absence_does_not(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any], clear: bool
) -> None:
    create_attribute(api, "plan", "string")
    post(
        api,
        "/contacts",
        {
            "role": "user",
            "email": "ada@example.com",
            "name": "Ada",
            "phone": "+44 1",
            "custom_attributes": {"plan": "pro"},
        },
    )
    # name and plan present with null; phone absent; an empty string is "not provided".
    text = singer(USERS_SCHEMA, user("ada@example.com", name=None, plan=None))
    text += singer(user("ada@example.com", phone=""))

    run = run_target(config, text, clear_on_null=clear)

    [ada] = contacts(sandbox)
    assert ada["phone"] == "+44 1"
    if clear:
        assert ada["name"] is None and ada["custom_attributes"]["plan"] is None
        assert run.outcomes("users") == {"updated": 2}
        again = run_target(config, text, clear_on_null=clear)
        assert again.outcomes("users") == {"unchanged": 2}  # already clear: no write
    else:
        assert ada["name"] == "Ada" and ada["custom_attributes"]["plan"] == "pro"
        assert run.outcomes("users") == {"unchanged": 2}


def test_clear_on_null_never_clears_a_new_contact_or_a_key(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    text = singer(USERS_SCHEMA, user("new@example.com", name=None, phone=None))

    run = run_target(config, text, clear_on_null=True)

    assert run.outcomes("users") == {"created": 1}
    [new] = by_email(sandbox, "user")["new@example.com"]
    assert new["name"] is None


# -- results_file -------------------------------------------------------------------------------
def test_results_file_lists_every_row_with_intercom_ids(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any], tmp_path: Path
) -> None:
    ada = post(api, "/contacts", {"role": "user", "email": "ada@example.com", "name": "Ada"})
    path = tmp_path / "out" / "results.jsonl"
    text = singer(
        USERS_SCHEMA,
        user("ada@example.com", name="Ada K"),
        user("new@example.com", name="New"),
        user("bad", name="Bad"),
    )

    run = run_target(config, text, results_file=str(path))

    rows = [json.loads(line) for line in path.read_text().splitlines()]
    by_key = {r["keys"]["email"]: r for r in rows}
    assert len(rows) == 3 and {r["run_id"] for r in rows} == {run.target.run_id}
    assert by_key["ada@example.com"]["outcome"] == "updated"
    assert by_key["ada@example.com"]["intercom_id"] == ada["id"]
    [new] = by_email(sandbox, "user")["new@example.com"]
    assert by_key["new@example.com"]["outcome"] == "created"
    assert by_key["new@example.com"]["intercom_id"] == new["id"]  # for the CRM to store
    assert by_key["new@example.com"]["request_id"]
    assert by_key["bad"]["outcome"] == "rejected" and "e-mail" in by_key["bad"]["reason"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_clearing_an_attribute_that_does_not_exist_creates_nothing(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    post(api, "/contacts", {"role": "user", "email": "ada@example.com", "name": "Ada"})
    text = singer(USERS_SCHEMA, user("ada@example.com", name="Ada", plan=None))

    run = run_target(config, text, clear_on_null=True, create_custom_attributes=True)

    assert run.outcomes("users") == {"unchanged": 1}
    attributes = sandbox.backend.dump()["workspace"]["data_attributes"]
    assert not [a for a in attributes if a.get("custom")]


# -- write_mode, as a property ------------------------------------------------------------------
EMAILS = [f"p{i}@example.com" for i in range(4)]


@pytest.fixture(scope="module")
def shared_sandbox() -> Iterator[RunningSandbox]:
    sbx = start(tokens=[TOKEN], random_seed=1)
    try:
        yield sbx
    finally:
        sbx.stop()


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    existing=st.sets(st.sampled_from(EMAILS)),
    rows=st.lists(st.sampled_from(EMAILS), min_size=1, max_size=4, unique=True),
    mode=st.sampled_from(["upsert", "update_only", "create_only"]),
)
def test_each_write_mode_does_what_its_table_says(
    shared_sandbox: RunningSandbox,
    tmp_path_factory: pytest.TempPathFactory,
    existing: set[str],
    rows: list[str],
    mode: str,
) -> None:
    sbx = shared_sandbox
    sbx.backend.reset()
    for email in sorted(existing):
        sbx.backend.contacts.create({"role": "user", "email": email, "name": "old"})
    config = {
        "access_token": TOKEN,
        "api_url": sbx.base_url,
        "rejects_file": str(tmp_path_factory.mktemp("modes") / "r.jsonl"),
    }

    run = run_target(
        config, singer(USERS_SCHEMA, *(user(e, name="new") for e in rows)), write_mode=mode
    )

    want: dict[str, int] = {}
    names = {e: "old" for e in existing}
    for email in rows:
        if email in existing:
            outcome = "skipped_exists" if mode == "create_only" else "updated"
        else:
            outcome = "skipped_no_match" if mode == "update_only" else "created"
        want[outcome] = want.get(outcome, 0) + 1
        if outcome in ("updated", "created"):
            names[email] = "new"
    assert run.outcomes("users") == want
    assert {c["email"]: c["name"] for c in contacts(sbx)} == names
