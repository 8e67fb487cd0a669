"""companies (upsert by company_id), attaching contacts to companies and tags, events."""

from __future__ import annotations

from typing import Any

import requests
from target_helpers import DATA, by_email, post, run_target, singer

from intercom_sandbox.server import RunningSandbox

INPUT = DATA / "companies_events.singer"


def companies(sandbox: RunningSandbox) -> dict[str, dict[str, Any]]:
    return {c["company_id"]: c for c in sandbox.backend.dump()["companies"]["companies"]}


def test_companies_users_tags_and_events_land_in_dependency_order(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    run = run_target(config, INPUT)

    acme = companies(sandbox)["acme"]
    assert acme["name"] == "Acme" and acme["size"] == 50
    assert acme["monthly_spend"] == 99  # Intercom keeps whole numbers (FACTS.md §4)
    assert acme["plan"]["name"] == "pro"
    assert acme["remote_created_at"] == 1577836800
    # The user came first in the input, but its companies were written before it.
    [ceo] = by_email(sandbox, "user")["ceo@acme.example"]
    company_ids = {c["id"] for c in ceo["companies"]["data"]}
    assert company_ids == {acme["id"], companies(sandbox)["globex"]["id"]}
    tags = {t["id"]: t["name"] for t in sandbox.backend.dump()["workspace"]["tags"]}
    assert {tags[t["id"]] for t in ceo["tags"]["data"]} == {"vip", "beta"}

    events = sandbox.backend.dump()["workspace"]["events"]
    assert [(e["event_name"], e["created_at"]) for e in events] == [("upgraded-plan", 1714564800)]
    assert events[0]["metadata"] == {"plan": "pro"}  # extra columns become metadata
    assert run.outcomes("companies") == {"created": 2}
    assert run.outcomes("users") == {"created": 1}
    assert run.outcomes("events") == {"created": 1, "rejected": 1}  # unknown user: a 404
    assert run.rejects[0]["status"] == 404
    assert run.states == [{"done": True}]


def test_rerun_changes_nothing_but_the_event_intercom_cannot_deduplicate(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    run_target(config, INPUT)
    before = sandbox.backend.dump()

    again = run_target(config, INPUT)

    after = sandbox.backend.dump()
    assert after["contacts"] == before["contacts"] and after["companies"] == before["companies"]
    assert again.outcomes("companies") == {"unchanged": 2}
    assert again.outcomes("users") == {"unchanged": 1}
    # ceo@ has no external id: Intercom records the re-sent event again (FACTS.md §4), and
    # the summary says so.
    assert len(after["workspace"]["events"]) == 2
    assert again.target.summary()["notes"] == {"events": {"no_dedupe": 1}}


def test_company_by_intercom_id_and_update(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    existing = post(api, "/companies", {"company_id": "initech", "name": "Initech"})
    text = singer(
        {
            "type": "SCHEMA",
            "stream": "companies",
            "key_properties": ["company_id"],
            "schema": {
                "properties": {"company_id": {"type": "string"}, "name": {"type": "string"}}
            },
        },
        {
            "type": "RECORD",
            "stream": "companies",
            "record": {"company_id": "initech", "name": "In"},
        },
        {
            "type": "SCHEMA",
            "stream": "users",
            "key_properties": [],
            "schema": {"properties": {"email": {"type": "string"}, "companies": {"type": "array"}}},
        },
        {
            "type": "RECORD",
            "stream": "users",
            "record": {"email": "peter@initech.example", "companies": [existing["id"]]},
        },
    )

    run = run_target(config, text)

    assert run.outcomes("companies") == {"updated": 1}
    assert companies(sandbox)["initech"]["name"] == "In"
    [peter] = by_email(sandbox, "user")["peter@initech.example"]
    assert [c["id"] for c in peter["companies"]["data"]] == [existing["id"]]


def test_dry_run_plans_everything_and_writes_nothing(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    before = sandbox.backend.dump()

    run = run_target(config, INPUT, dry_run=True)

    assert sandbox.backend.dump() == before
    # The user's companies would exist by then: the dry run does not reject it for that.
    assert run.outcomes("companies") == {"created": 2}
    assert run.outcomes("users") == {"created": 1}
    # As in a real run: the event naming no contact is refused (Intercom answers 404).
    assert run.outcomes("events") == {"created": 1, "rejected": 1}
    assert run.states == []  # a dry run emits no STATE
    writes = {"CreateContact", "createOrUpdateCompany", "createTag", "createDataEvent"}
    assert not writes & set(sandbox.app.stats.snapshot()["operations"])
