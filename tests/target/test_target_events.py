"""events: sent once, never re-sent blindly; what Intercom cannot de-duplicate is reported.

Intercom identifies an event by the contact's external id, event name and created_at
(FACTS.md §4): an event of a contact without an external id is recorded again by every send.
So the target sends each event as a non-idempotent write (an ambiguous failure is kept as
``ambiguous``, not re-sent), and says how many events a re-run would record again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests
from target_helpers import post, run_target, singer

from intercom_sandbox.server import RunningSandbox
from target_intercom.sinks.events import NO_DEDUPE

T = 1714564800
EVENTS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "events",
    "key_properties": [],
    "schema": {"properties": {"event_name": {"type": "string"}}},
}


def event(**who: Any) -> dict[str, Any]:
    record = {"event_name": "ordered", "created_at": T, **who}
    return {"type": "RECORD", "stream": "events", "record": record}


def stored(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    return sandbox.backend.dump()["workspace"]["events"]


def test_an_event_of_a_contact_without_external_id_sent_twice_is_reported(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any], tmp_path: Path
) -> None:
    post(api, "/contacts", {"role": "user", "email": "anon@example.com"})
    post(api, "/contacts", {"role": "user", "email": "known@example.com", "external_id": "k-1"})
    text = singer(
        EVENTS_SCHEMA,
        event(email="anon@example.com"),
        event(email="known@example.com"),
        {"type": "STATE", "value": {"n": 2}},
    )
    results = tmp_path / "results.jsonl"

    first = run_target(config, text, results_file=str(results))
    second = run_target(config, text, results_file=str(results))

    for run in (first, second):
        assert run.outcomes("events") == {"created": 2}
        assert run.target.summary()["notes"] == {"events": {NO_DEDUPE: 1}}
        assert run.states == [{"n": 2}]
    # Intercom de-duplicated the event of the contact with an external id, not the other.
    emails = sorted(e["contact_id"] for e in stored(sandbox))
    assert len(emails) == 3
    lines = results.read_text().splitlines()
    assert sum("cannot de-duplicate this event" in line for line in lines) == 1  # this run's


def test_the_summary_log_says_when_a_rerun_duplicates_and_how_to_avoid_it(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any], caplog: Any
) -> None:
    contact = post(api, "/contacts", {"role": "lead", "email": "lead@example.com"})

    run_target(config, singer(EVENTS_SCHEMA, event(id=contact["id"])))

    text = caplog.text
    assert "events: 1 sent for contacts without an external id" in text
    assert "re-run of these rows records them again" in text and "user_id" in text


def test_events_by_user_id_are_not_looked_up(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    post(api, "/contacts", {"role": "user", "email": "k@example.com", "external_id": "k-1"})
    sandbox.app.stats.reset()

    run = run_target(config, singer(EVENTS_SCHEMA, *(event(user_id="k-1") for _ in range(3))))

    assert run.outcomes("events") == {"created": 3}
    assert run.target.summary()["notes"] == {}
    assert set(sandbox.app.stats.snapshot()["operations"]) == {"createDataEvent"}
    assert len(stored(sandbox)) == 1


def test_an_ambiguous_send_is_kept_and_never_resent(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """The connection drops after Intercom recorded the event: re-sending could record it
    twice, so the event is kept in the rejects file as ambiguous, with how to replay it."""
    contact = post(api, "/contacts", {"role": "user", "email": "anon@example.com"})
    post(api, "/contacts", {"role": "user", "email": "k@example.com", "external_id": "k-1"})
    post(api, "/_sandbox/faults", {"rates": {"drop": 1.0}, "operations": ["createDataEvent"]})
    text = singer(
        EVENTS_SCHEMA,
        event(id=contact["id"]),
        event(user_id="k-1"),
        {"type": "STATE", "value": {"n": 2}},
    )

    run = run_target(config, text, max_retries=5)

    assert run.outcomes("events") == {"ambiguous": 2}
    assert sandbox.app.faults.injected["drop"] == 2  # one send each: nothing re-sent
    assert len(stored(sandbox)) == 2  # Intercom had recorded both
    reasons = {r["record"].get("user_id", "by id"): r for r in run.rejects}
    assert all(r["outcome"] == "ambiguous" for r in run.rejects)
    assert "it was not re-sent" in reasons["by id"]["reason"]
    assert "may be recorded twice" in reasons["by id"]["reason"]
    assert "replaying this record is safe" in reasons["k-1"]["reason"]
    assert run.states == [{"n": 2}]  # kept with their reason: the run goes on
