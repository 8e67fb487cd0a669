"""leads: idempotent creates (marker, re-runs, search lag, ambiguous creates), plain creates."""

from __future__ import annotations

from typing import Any

import requests
from target_helpers import DATA, by_email, contacts, post, run_target, singer

from intercom_sandbox.server import RunningSandbox
from target_intercom.sinks.leads import UnresolvedWriteError

MARKER = "target_intercom_key"
LEADS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "leads",
    "key_properties": [],
    "schema": {"properties": {"email": {"type": "string"}, "name": {"type": "string"}}},
}


def lead(email: str, **fields: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "leads", "record": {"email": email, **fields}}


def test_leads_are_created_once_and_marked(sandbox: RunningSandbox, config: dict[str, Any]) -> None:
    run = run_target(config, DATA / "leads.singer")

    leads = by_email(sandbox, "lead")
    assert sorted(leads) == ["lin@example.com", "max@example.com"]
    [lin] = leads["lin@example.com"]  # LIN@ is the same lead: one contact, not two
    assert lin["name"] == "Lin Prospect" and lin["phone"] == "+1 555 0100"
    assert lin["avatar"]["image_url"] == "https://example.com/lin.png"  # 1.x image_url
    assert lin["custom_attributes"] == {MARKER: "lin@example.com"}
    assert run.outcomes("leads") == {"created": 2, "updated": 1}
    assert run.states == [{"bookmarks": {"leads": 3}}]


def test_rerun_creates_no_duplicate_and_changes_nothing(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    run_target(config, DATA / "leads.singer")
    before = sandbox.backend.dump()

    again = run_target(config, DATA / "leads.singer")

    assert sandbox.backend.dump() == before
    assert again.outcomes("leads") == {"unchanged": 3}


def test_a_lead_someone_else_created_is_left_alone(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """Leads may share an e-mail (FACTS.md §2.2): only leads this target marked are updated."""
    theirs = post(api, "/contacts", {"role": "lead", "email": "max@example.com", "name": "Web"})

    run_target(config, DATA / "leads.singer")
    run_target(config, DATA / "leads.singer")

    maxes = by_email(sandbox, "lead")["max@example.com"]
    assert len(maxes) == 2
    assert next(c for c in maxes if c["id"] == theirs["id"])["name"] == "Web"


def test_without_marker_any_lead_with_the_email_is_updated(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    theirs = post(api, "/contacts", {"role": "lead", "email": "max@example.com", "name": "Web"})

    run = run_target(config, DATA / "leads.singer", lead_marker_attribute="")

    [only] = by_email(sandbox, "lead")["max@example.com"]
    assert only["id"] == theirs["id"] and only["name"] == "Max Prospect"
    assert run.count("leads", "updated") == 2  # max, and the LIN@ duplicate of lin


def test_redelivery_within_search_lag_is_matched_in_memory(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """Same lead in two batches while search does not see the first write yet."""
    post(api, "/_sandbox/config", {"search_lag_seconds": 3600})
    text = singer(LEADS_SCHEMA, lead("lag@example.com", name="A"), lead("lag@example.com"))

    run = run_target(config, text, batch_size_rows=1)

    assert len(by_email(sandbox, "lead")["lag@example.com"]) == 1
    assert run.outcomes("leads") == {"created": 1, "unchanged": 1}


def test_ambiguous_create_is_reconciled_not_duplicated(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """The connection drops after the lead was written: found by search, not re-sent."""
    post(api, "/_sandbox/faults", {"rates": {"drop": 1.0}, "operations": ["CreateContact"]})
    text = singer(LEADS_SCHEMA, lead("a@example.com"), lead("b@example.com"))

    # One write thread: the reconciling search runs inside it (no wait on its own pool).
    run = run_target(config, text, max_workers=1)

    assert sorted(by_email(sandbox, "lead")) == ["a@example.com", "b@example.com"]
    assert len(contacts(sandbox, "lead")) == 2
    assert run.outcomes("leads") == {"created": 2}
    assert sandbox.app.faults.injected["drop"] == 2


def test_unresolved_ambiguous_create_fails_the_batch_then_rerun_matches(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    post(api, "/_sandbox/config", {"search_lag_seconds": 3600})
    post(api, "/_sandbox/faults", {"rates": {"drop": 1.0}, "operations": ["CreateContact"]})
    text = singer(LEADS_SCHEMA, lead("a@example.com"), {"type": "STATE", "value": {"n": 1}})

    failed = run_target(config, text, raises=UnresolvedWriteError, reconcile_timeout=0.5)
    assert "re-run later" in str(failed.error)
    assert failed.states == []  # no STATE covers the unacknowledged batch

    # Later, the search index has caught up: the re-run finds the lead instead of adding one.
    post(api, "/_sandbox/faults", {"clear": True})
    post(api, "/_sandbox/clock", {"advance": 3601})
    run = run_target(config, text)
    assert len(contacts(sandbox, "lead")) == 1
    assert run.outcomes("leads") == {"unchanged": 1}
    assert run.states == [{"n": 1}]


def test_plain_create_mode_creates_every_record(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    run_target(config, DATA / "leads.singer", lead_mode="create")
    run = run_target(config, DATA / "leads.singer", lead_mode="create")

    assert run.outcomes("leads") == {"created": 3}
    assert len(by_email(sandbox, "lead")["lin@example.com"]) == 4
