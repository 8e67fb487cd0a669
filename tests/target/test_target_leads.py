"""leads: matched by e-mail (default) or by a key attribute the user consented to, re-runs,
search lag, ambiguous creates, plain creates; nothing is created in the workspace unasked."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError
from target_helpers import DATA, by_email, contacts, post, run_target, singer

from intercom_sandbox.server import RunningSandbox
from target_intercom.sinks.leads import UnresolvedWriteError
from target_intercom.target import TargetIntercom

MARKER = "target_intercom_key"
KEYED = {"lead_mode": "key_attribute", "create_lead_key_attribute": True}
LEADS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "leads",
    "key_properties": [],
    "schema": {"properties": {"email": {"type": "string"}, "name": {"type": "string"}}},
}


def lead(email: str, **fields: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "leads", "record": {"email": email, **fields}}


def custom_attribute_names(sandbox: RunningSandbox) -> set[str]:
    """The contact data attributes created in the workspace (custom ones)."""
    attributes = sandbox.backend.dump()["workspace"]["data_attributes"]
    return {a["name"] for a in attributes if a.get("custom") and a.get("model") == "contact"}


def test_leads_are_created_once_and_nothing_else(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    """Default lead_mode email: one lead per e-mail, and no attribute added to the workspace."""
    run = run_target(config, DATA / "leads.singer")

    leads = by_email(sandbox, "lead")
    assert sorted(leads) == ["lin@example.com", "max@example.com"]
    [lin] = leads["lin@example.com"]  # LIN@ is the same lead: one contact, not two
    assert lin["name"] == "Lin Prospect" and lin["phone"] == "+1 555 0100"
    assert lin["avatar"]["image_url"] == "https://example.com/lin.png"  # 1.x image_url
    assert lin["custom_attributes"] == {}
    assert custom_attribute_names(sandbox) == set()
    assert run.outcomes("leads") == {"created": 2, "updated": 1}
    assert run.states == [{"bookmarks": {"leads": 3}}]


@pytest.mark.parametrize("mode", ["create", "email"])
def test_no_attribute_is_created_without_consent(
    sandbox: RunningSandbox, config: dict[str, Any], mode: str
) -> None:
    """Issue 13: lead_mode create (and the default) created and filled target_intercom_key
    even with create_custom_attributes false."""
    run_target(config, DATA / "leads.singer", lead_mode=mode, create_custom_attributes=False)

    assert custom_attribute_names(sandbox) == set()
    assert all(c["custom_attributes"] == {} for c in contacts(sandbox, "lead"))
    ops = sandbox.app.stats.snapshot()["operations"]
    assert "createDataAttribute" not in ops


def test_key_attribute_mode_marks_the_leads_it_creates(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    run = run_target(config, DATA / "leads.singer", **KEYED)

    [lin] = by_email(sandbox, "lead")["lin@example.com"]
    assert lin["custom_attributes"] == {MARKER: "lin@example.com"}
    assert custom_attribute_names(sandbox) == {MARKER}
    assert run.outcomes("leads") == {"created": 2, "updated": 1}


@pytest.mark.parametrize("mode", ["key_attribute", "idempotent"])
def test_key_attribute_mode_needs_consent_naming_both_settings(
    config: dict[str, Any], mode: str
) -> None:
    with pytest.raises(ConfigValidationError) as err:
        TargetIntercom(config={**config, "lead_mode": mode})
    assert "create_lead_key_attribute" in str(err.value) and "lead_mode" in str(err.value)


def test_the_old_marker_setting_is_a_clear_error(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigValidationError, match="lead_marker_attribute was replaced"):
        TargetIntercom(config={**config, "lead_marker_attribute": "x"})


@pytest.mark.parametrize("keyed", [False, True], ids=["email", "key_attribute"])
def test_rerun_creates_no_duplicate_and_changes_nothing(
    sandbox: RunningSandbox, config: dict[str, Any], keyed: bool
) -> None:
    settings = KEYED if keyed else {}
    run_target(config, DATA / "leads.singer", **settings)
    before = sandbox.backend.dump()

    again = run_target(config, DATA / "leads.singer", **settings)

    assert sandbox.backend.dump() == before
    assert again.outcomes("leads") == {"unchanged": 3}


def test_key_attribute_mode_leaves_a_lead_someone_else_created_alone(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """Leads may share an e-mail (FACTS.md §2.2): only leads this target marked are updated."""
    theirs = post(api, "/contacts", {"role": "lead", "email": "max@example.com", "name": "Web"})

    run_target(config, DATA / "leads.singer", **KEYED)
    run_target(config, DATA / "leads.singer", **KEYED)

    maxes = by_email(sandbox, "lead")["max@example.com"]
    assert len(maxes) == 2
    assert next(c for c in maxes if c["id"] == theirs["id"])["name"] == "Web"


def test_email_mode_updates_any_lead_with_the_email(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """The documented trade-off of the default: the existing lead is the one updated."""
    theirs = post(api, "/contacts", {"role": "lead", "email": "max@example.com", "name": "Web"})

    run = run_target(config, DATA / "leads.singer")

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
    assert custom_attribute_names(sandbox) == set()


def test_plain_create_mode_cannot_be_update_only(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigValidationError, match="lead_mode: create matches no existing"):
        TargetIntercom(config={**config, "lead_mode": "create", "write_mode": "update_only"})
