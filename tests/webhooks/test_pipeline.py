"""Sandbox -> intercom-webhooks -> tap-intercom's webhook_events, on SQLite and PostgreSQL:
every write arrives once, in order, deletions and merges flagged, and the bookmark (the
store's sequence number) neither skips nor repeats between runs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError
from webhook_support import TOKEN, run_tap, stored

from intercom_sandbox.server import RunningSandbox

STREAM = "webhook_events"


def tap_run(sbx: RunningSandbox, location: str | None, state: dict | None = None) -> Any:
    config = {"webhook_store": location} if location else {}
    return run_tap(sbx.base_url, [STREAM], state=state, **config)


def write(api: requests.Session, method: str, url: str, **body: Any) -> dict[str, Any]:
    r = api.request(method, url, json=body or None)
    assert r.status_code == 200, r.text
    return r.json()


def test_writes_come_out_of_the_tap_once_each_in_order_with_deletions_flagged(
    linked_sandbox: RunningSandbox, api: requests.Session, store_location: str
) -> None:
    sbx = linked_sandbox
    base = sbx.base_url
    user = write(api, "POST", f"{base}/contacts", role="user", email="ada@example.com")
    write(api, "PUT", f"{base}/contacts/{user['id']}", name="Ada")
    lead = write(api, "POST", f"{base}/contacts", role="lead", email="ada@example.com")
    write(api, "POST", f"{base}/contacts/merge", **{"from": lead["id"], "into": user["id"]})
    doomed = write(api, "POST", f"{base}/contacts", role="user", email="bob@example.com")
    write(api, "DELETE", f"{base}/contacts/{doomed['id']}")
    with sbx.backend.lock:  # a contact starts a conversation (no create endpoint modelled)
        convs = sbx.backend.conversations
        author = convs.author_for_contact(sbx.backend.contacts.require(user["id"]))
        conversation = convs.create(author=author, contact_ids=[user["id"]], body="Help!")
    write(api, "DELETE", f"{base}/conversations/{conversation['id']}")
    assert sbx.backend.webhooks.wait_idle(30)

    # start_date (a date) says nothing about sequence numbers: every notification comes out.
    run = run_tap(sbx.base_url, [STREAM], webhook_store=store_location, start_date="2030-01-01")
    records = run.records(STREAM)
    assert [(r["topic"], r["item_id"]) for r in records] == [
        ("contact.user.created", user["id"]),
        ("contact.user.updated", user["id"]),
        ("contact.lead.created", lead["id"]),
        ("contact.merged", user["id"]),
        ("contact.user.created", doomed["id"]),
        ("contact.deleted", doomed["id"]),
        ("conversation.user.created", conversation["id"]),
        ("conversation.deleted", conversation["id"]),
    ]
    assert len({r["id"] for r in records}) == len(records)  # once each
    seqs = [r["seq"] for r in records]
    assert seqs == sorted(seqs)
    flagged = {r["topic"]: r["deleted_id"] for r in records if r["_sdc_deleted_at"]}
    assert flagged == {
        "contact.merged": lead["id"],  # the lead merged away is the one gone
        "contact.deleted": doomed["id"],
        "conversation.deleted": conversation["id"],
    }
    merged = records[3]
    assert merged["item"]["merged_from"] == {"type": "contact", "id": lead["id"]}
    assert records[1]["item"]["name"] == "Ada"  # the full item, as sent
    assert records[0]["delivery_attempts"] == 1
    assert records[0]["created_at"].endswith("+00:00")
    assert run.bookmark(STREAM) == seqs[-1]

    # The next run resumes after the bookmark: nothing again, then only what is new.
    again = tap_run(sbx, store_location, state=run.state)
    assert again.records(STREAM) == []
    write(api, "POST", f"{base}/contacts", role="lead", email="new@example.com")
    assert sbx.backend.webhooks.wait_idle(30)
    later = tap_run(sbx, store_location, state=again.state)
    assert [r["topic"] for r in later.records(STREAM)] == ["contact.lead.created"]
    assert later.records(STREAM)[0]["seq"] > seqs[-1]
    assert len(stored(store_location)) == len(records) + 1


def test_a_run_stops_at_the_last_sequence_number_it_saw_first(
    linked_sandbox: RunningSandbox, api: requests.Session, store_location: str
) -> None:
    """Notifications stored while a run reads are left to the next run, not lost."""
    for i in range(5):
        write(api, "POST", f"{linked_sandbox.base_url}/contacts", role="lead", email=f"{i}@x.io")
    assert linked_sandbox.backend.webhooks.wait_idle(30)
    first = tap_run(linked_sandbox, store_location, state=None)
    assert len(first.records(STREAM)) == 5
    for i in range(3):
        write(api, "POST", f"{linked_sandbox.base_url}/contacts", role="lead", email=f"n{i}@x.io")
    assert linked_sandbox.backend.webhooks.wait_idle(30)
    second = tap_run(linked_sandbox, store_location, state=first.state)
    assert len(second.records(STREAM)) == 3
    assert {r["id"] for r in first.records(STREAM)}.isdisjoint(
        r["id"] for r in second.records(STREAM)
    )


def test_selected_without_a_store_the_stream_says_so_and_emits_nothing(
    linked_sandbox: RunningSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    run = tap_run(linked_sandbox, None)
    assert run.records(STREAM) == []
    assert "webhook_store is not set" in caplog.text


def test_a_store_that_does_not_exist_is_a_clear_error(
    linked_sandbox: RunningSandbox, tmp_path: Any
) -> None:
    missing = str(tmp_path / "nowhere.sqlite3")
    with pytest.raises(ConfigValidationError, match="no webhook store at"):
        tap_run(linked_sandbox, missing)
    assert not (tmp_path / "nowhere.sqlite3").exists()  # the tap never creates one


@pytest.mark.postgres
def test_a_postgres_password_never_shows_in_the_error(linked_sandbox: RunningSandbox) -> None:
    url = "postgresql://postgres:hunter2-secret@127.0.0.1:5432/no_such_db_for_webhooks"
    with pytest.raises(ConfigValidationError) as info:
        tap_run(linked_sandbox, url)
    assert "hunter2-secret" not in str(info.value)
    assert "***" in str(info.value)


def test_the_token_and_secret_never_reach_the_tap_output(
    linked_sandbox: RunningSandbox, api: requests.Session, store_location: str
) -> None:
    from webhook_support import SECRET

    write(api, "POST", f"{linked_sandbox.base_url}/contacts", role="user", email="z@x.io")
    assert linked_sandbox.backend.webhooks.wait_idle(30)
    run = tap_run(linked_sandbox, store_location)
    text = repr(run.messages)
    assert SECRET not in text
    assert TOKEN not in text


TRIGGERS = {  # meltano.yml extractor -> (stream it lands in, topic it keeps)
    "tap-intercom--user-created": ("user_created", "contact.user.created"),
    "tap-intercom--user-updated": ("user_updated", "contact.user.updated"),
    "tap-intercom--lead-created": ("lead_created", "contact.lead.created"),
    "tap-intercom--conversation-started": ("conversation_started", "conversation.user.created"),
}


def test_the_trigger_recipes_of_meltano_yml_keep_their_topic_only(
    linked_sandbox: RunningSandbox, api: requests.Session, store_location: str
) -> None:
    """The original connector's triggers on the webhook path, as meltano.yml declares them."""
    import yaml

    doc = yaml.safe_load((Path(__file__).resolve().parents[2] / "meltano.yml").read_text())
    plugins = {p["name"]: p for p in doc["plugins"]["extractors"]}
    base = linked_sandbox.base_url
    user = write(api, "POST", f"{base}/contacts", role="user", email="t@example.com")
    write(api, "PUT", f"{base}/contacts/{user['id']}", name="T")
    write(api, "POST", f"{base}/contacts", role="lead", email="l@example.com")
    with linked_sandbox.backend.lock:
        convs = linked_sandbox.backend.conversations
        admin = next(iter(linked_sandbox.backend.workspace.admins.values()))
        convs.create(author=convs.author_for_admin(admin), contact_ids=[user["id"]], body="Hi")
        author = convs.author_for_contact(linked_sandbox.backend.contacts.require(user["id"]))
        started = convs.create(author=author, contact_ids=[user["id"]], body="Help")
    assert linked_sandbox.backend.webhooks.wait_idle(30)
    for name, (stream, topic) in TRIGGERS.items():
        maps = plugins[name]["config"]["stream_maps"]
        assert plugins[name]["inherit_from"] == "tap-intercom--webhooks"
        run = run_tap(base, [STREAM], webhook_store=store_location, stream_maps=maps)
        records = [m for m in run.messages if m["type"] == "RECORD"]
        assert {m["stream"] for m in records} == {stream}, name
        assert [m["record"]["topic"] for m in records] == [topic], name
        if topic == "conversation.user.created":
            assert records[0]["record"]["item_id"] == started["id"]
        assert run.bookmark(STREAM) is not None  # the state covers the records filtered out
