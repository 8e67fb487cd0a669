"""Stream deleted_contacts: contacts deleted or merged away since the last reconcile."""

from __future__ import annotations

import json
import math
import random

import pytest
from tap_support import D0, SandboxControl, catalog_selecting, run_tap

from intercom_sandbox.server import RunningSandbox
from tap_intercom.streams.reconcile import STATE_KEY, decode_ids, encode_ids

CATALOG = catalog_selecting(["deleted_contacts"])


def _reconcile(sandbox: RunningSandbox, state: dict | None = None, **config):
    return run_tap(sandbox.base_url, state=state, catalog=CATALOG, **config)


def test_a_deleted_contact_and_a_merged_lead_are_the_two_deletions(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=40, leads=15)
    user = ctl.contact("user", "merge.target@example.com")
    lead = ctl.contact("lead", "merge.target@example.com")
    doomed = ctl.contact("user", "doomed@example.com")
    first = _reconcile(sandbox)
    assert first.records("deleted_contacts") == []  # the first run only remembers
    saved = first.state["bookmarks"]["deleted_contacts"][STATE_KEY]
    assert {r: saved[r]["count"] for r in ("user", "lead")} == {"user": 42, "lead": 16}

    ctl.advance(3600)
    assert ctl.api.delete(f"{ctl.base}/contacts/{doomed['id']}").status_code == 200
    ctl._post("/contacts/merge", {"from": lead["id"], "into": user["id"]})
    ctl.contact("lead", "new.since@example.com")  # new contacts are not deletions
    ctl.reset_stats()
    second = _reconcile(sandbox, state=first.state)
    got = sorted(second.records("deleted_contacts"), key=lambda r: r["role"])
    assert [(r["id"], r["role"], r["reason"], r["merged_into_id"]) for r in got] == [
        (lead["id"], "lead", "merged", user["id"]),
        (doomed["id"], "user", "deleted", None),
    ]
    # When this reconcile started: the sandbox's clock (the Date header has 1 s resolution).
    assert {r["_sdc_deleted_at"] for r in got} <= {
        "2025-06-10T01:00:00+00:00",
        "2025-06-10T00:59:59+00:00",
    }
    ops = ctl.stats()["operations"]
    assert ops["ListContacts"] == {"200": math.ceil(57 / 150)}
    assert ops["ShowContact"] == {"404": 1, "410": 1}  # one look per missing id, no more

    third = _reconcile(sandbox, state=second.state)
    assert third.records("deleted_contacts") == []  # each deletion is reported once


def test_archived_and_converted_contacts_leave_their_tables(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    hidden = ctl.contact("user", "hidden@example.com")
    converted = ctl.contact("lead", "converted@example.com")
    kept = ctl.contact("user", "kept@example.com")
    first = _reconcile(sandbox)
    ctl._post(f"/contacts/{hidden['id']}/archive", {})
    ctl.update(converted["id"], role="user", email="converted@example.com")
    second = _reconcile(sandbox, state=first.state)
    got = {r["id"]: (r["role"], r["reason"]) for r in second.records("deleted_contacts")}
    assert got == {hidden["id"]: ("user", "archived"), converted["id"]: ("lead", "role_changed")}
    assert kept["id"] not in got


def test_an_unreadable_saved_set_starts_over_without_reporting(
    sandbox: RunningSandbox, ctl: SandboxControl, caplog: pytest.LogCaptureFixture
) -> None:
    ctl.clock(D0)
    ctl.contact("user", "a@example.com")
    state = {"bookmarks": {"deleted_contacts": {STATE_KEY: {"user": {"data": "not base64!"}}}}}
    run = _reconcile(sandbox, state=state)
    assert run.records("deleted_contacts") == []
    assert "unreadable" in caplog.text
    assert decode_ids(run.state["bookmarks"]["deleted_contacts"][STATE_KEY]["user"])


def test_activate_version_is_never_sent_for_deletions(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.contact("user", "a@example.com")
    run = _reconcile(sandbox, emit_activate_version_messages=True)
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]


def test_the_id_set_is_compact_and_round_trips():
    rng = random.Random(3)
    hex_ids = {f"{rng.getrandbits(96):024x}" for _ in range(100_000)}
    blob = encode_ids(hex_ids)
    assert decode_ids(blob) == hex_ids
    assert blob["count"] == 100_000
    size = len(json.dumps(blob))
    assert size < 1_650_000  # 12 random bytes an id, base64: the worst case of Intercom ids
    # Other id shapes still round-trip (text lines).
    odd = {"abc", "12345", "x" * 30}
    assert decode_ids(encode_ids(odd)) == odd
    assert decode_ids(encode_ids([])) == set()
    with pytest.raises(ValueError):
        decode_ids({**blob, "count": 3})
