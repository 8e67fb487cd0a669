"""users: upsert by e-mail and by external_id, re-runs, 409 resolution, dry run, deletes."""

from __future__ import annotations

from typing import Any

import requests
from target_helpers import DATA, by_email, contacts, post, run_target, singer

from intercom_sandbox.server import RunningSandbox

USERS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": [],
    "schema": {
        "type": "object",
        "properties": {
            "email": {"type": ["string", "null"]},
            "user_id": {"type": ["string", "null"]},
            "name": {"type": ["string", "null"]},
            "_sdc_deleted_at": {"type": ["string", "null"]},
        },
    },
}


def user(email: str | None = None, **fields: Any) -> dict[str, Any]:
    record = {"email": email, **fields} if email else fields
    return {"type": "RECORD", "stream": "users", "record": record}


def seed_existing(api: requests.Session) -> dict[str, str]:
    """Two users the input will match: one by e-mail, one by external_id."""
    ada = post(api, "/contacts", {"role": "user", "email": "ada@example.com", "name": "Ada"})
    grace = post(
        api,
        "/contacts",
        {"role": "user", "external_id": "u-1002", "email": "old-grace@example.com"},
    )
    return {"ada": ada["id"], "grace": grace["id"]}


def test_upsert_by_email_and_external_id(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    ids = seed_existing(api)
    run = run_target(config, DATA / "users_upsert.singer")

    users = by_email(sandbox, "user")
    assert len(contacts(sandbox, "user")) == 4  # two matched, two created: no duplicate
    ada = users["ada@example.com"][0]
    assert ada["id"] == ids["ada"]  # matched by e-mail
    assert ada["name"] == "Ada King"  # the later record of the same key wins, in order
    assert ada["phone"] == "+44 20 7946 0000"
    assert ada["signed_up_at"] == 1709285400  # ISO 8601 -> unix seconds
    grace = users["grace@example.com"][0]
    assert grace["id"] == ids["grace"]  # matched by external_id (user_id), e-mail updated
    assert grace["external_id"] == "u-1002"
    assert grace["signed_up_at"] == 1709285400
    alan = next(c for c in contacts(sandbox, "user") if c.get("external_id") == "u-1003")
    assert alan["name"] == "Alan Turing" and not alan["email"]
    edsger = users["edsger@example.com"][0]
    assert edsger["unsubscribed_from_emails"] is True
    assert edsger["avatar"]["image_url"] == "https://example.com/edsger.png"

    # Records 1 and 5 are the same user: first updated, then updated again.
    assert run.outcomes("users") == {"created": 2, "updated": 3}
    assert run.rejects == []
    assert run.states[-1] == {"bookmarks": {"users": {"replication_key_value": 5}}}


def test_rerun_changes_nothing(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    seed_existing(api)
    run_target(config, DATA / "users_upsert.singer")
    before = sandbox.backend.dump()
    calls_before = sandbox.app.stats.snapshot()["operations"]

    again = run_target(config, DATA / "users_upsert.singer")

    assert sandbox.backend.dump() == before  # identical: no duplicate, no touched updated_at
    assert again.outcomes("users") == {"unchanged": 5}
    calls = sandbox.app.stats.snapshot()["operations"]
    for op in ("CreateContact", "UpdateContact"):
        assert calls.get(op) == calls_before.get(op), f"re-run sent {op}"


def test_lookup_is_batched(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """200 users, half existing: a few searches, then one write per changed record."""
    for i in range(100):
        post(api, "/contacts", {"role": "user", "email": f"u{i}@example.com", "name": "old"})
    sandbox.app.stats.reset()
    records = [user(f"u{i}@example.com", name=f"User {i}") for i in range(200)]

    run = run_target(config, singer(USERS_SCHEMA, *records))

    assert run.outcomes("users") == {"created": 100, "updated": 100}
    ops = sandbox.app.stats.snapshot()["operations"]
    searches = sum(ops.get("SearchContacts", {}).values())
    assert searches <= 3
    assert sum(ops["CreateContact"].values()) == 100
    assert sum(ops["UpdateContact"].values()) == 100
    assert sandbox.app.stats.snapshot()["total"] <= 203


def test_conflict_is_resolved_by_updating_the_named_contact(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """409 on create (FACTS.md §2.2): search has not indexed lag@ yet, and gone@ is archived
    (search never shows it). Both are updated, gone@ unarchived first: no duplicate."""
    gone = post(api, "/contacts", {"role": "user", "email": "gone@example.com"})
    post(api, f"/contacts/{gone['id']}/archive")
    post(api, "/_sandbox/config", {"search_lag_seconds": 3600})
    lag = post(api, "/contacts", {"role": "user", "email": "lag@example.com"})
    sandbox.app.stats.reset()

    run = run_target(config, DATA / "users_conflict.singer")

    assert run.outcomes("users") == {"updated": 2}
    state = {c["email"]: (c["id"], c["name"], c["archived"]) for c in contacts(sandbox, "user")}
    assert state == {
        "lag@example.com": (lag["id"], "Lagging", False),
        "gone@example.com": (gone["id"], "Back", False),
    }
    ops = sandbox.app.stats.snapshot()["operations"]
    assert ops["CreateContact"] == {"409": 2}
    assert ops["UnarchiveContact"] == {"200": 1}
    assert run.states == [{"bookmarks": {"users": 2}}]


def test_conflict_on_other_users_email_is_rejected(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    """external_id u-2 with the e-mail of user u-1: neither overwritten nor duplicated."""
    post(api, "/contacts", {"role": "user", "external_id": "u-1", "email": "shared@example.com"})

    run = run_target(
        config, singer(USERS_SCHEMA, user("shared@example.com", user_id="u-2", name="Other"))
    )

    assert run.outcomes("users") == {"rejected": 1}
    assert "belongs to contact" in run.reject_at(2)["reason"]
    [only] = contacts(sandbox, "user")
    assert only["external_id"] == "u-1" and only["name"] is None


def test_dry_run_reads_and_writes_nothing(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    seed_existing(api)
    before = sandbox.backend.dump()
    sandbox.app.stats.reset()

    run = run_target(config, DATA / "users_upsert.singer", dry_run=True)

    assert sandbox.backend.dump() == before
    assert run.outcomes("users") == {"created": 2, "updated": 3}  # what it would do
    ops = sandbox.app.stats.snapshot()["operations"]
    assert "SearchContacts" in ops  # it did read and match
    assert not {"CreateContact", "UpdateContact"} & set(ops)


def test_deleted_records_archive_or_delete(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    a = post(api, "/contacts", {"role": "user", "email": "a@example.com"})
    post(api, "/contacts", {"role": "user", "email": "b@example.com"})
    gone = "2024-05-01T00:00:00Z"
    text = singer(
        USERS_SCHEMA,
        user("a@example.com", _sdc_deleted_at=gone),
        user("nobody@example.com", _sdc_deleted_at=gone),
    )

    run = run_target(config, text)

    assert run.outcomes("users") == {"archived": 1, "unchanged": 1}
    state = {c["email"]: c["archived"] for c in contacts(sandbox, "user")}
    assert state == {"a@example.com": True, "b@example.com": False}

    run = run_target(
        config,
        singer(USERS_SCHEMA, user("b@example.com", _sdc_deleted_at=gone)),
        delete_mode="delete",
    )
    assert run.outcomes("users") == {"deleted": 1}
    assert [c["id"] for c in contacts(sandbox, "user")] == [a["id"]]

    run = run_target(
        config,
        singer(USERS_SCHEMA, user("x@example.com", _sdc_deleted_at=gone)),
        delete_mode="ignore",
    )
    assert run.outcomes("users") == {"unchanged": 1}
