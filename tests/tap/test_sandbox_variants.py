"""The tap is correct under every variant the sandbox offers where Intercom's behaviour is
unknown (intercom_sandbox/settings.py): contact dates by day or to the second (Preview),
conversation / ticket search sorted or not. Full sync, then an incremental run, on day and
time slices cut small enough to run many chains side by side."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from tap_support import D0, DAY, TOKEN, catalog_selecting, run_tap

from intercom_sandbox.server import RunningSandbox, start
from tap_intercom.transform import iso

STREAMS = ["users", "leads", "conversations", "conversation_parts", "tickets"]


@pytest.fixture
def world() -> Iterator[RunningSandbox]:
    sbx = start(tokens=[TOKEN], random_seed=21, clock_start=D0, rate_limit_per_minute=10**7)
    try:
        requests.post(
            f"{sbx.base_url}/_sandbox/seed",
            json={"users": 1500, "leads": 300, "conversations": 150, "tickets": 120},
            timeout=60,
        ).raise_for_status()
        b = sbx.backend
        with b.lock:  # one busy day: read as one-day slices, then as id parts
            for i in range(900):
                b.clock.set(D0 - 3 * DAY + 40 + 90 * i, frozen=True)
                b.contacts.create({"role": "user", "email": f"busy{i}@example.com"})
            b.clock.set(D0, frozen=True)
        yield sbx
    finally:
        sbx.stop()


def truth(sbx: RunningSandbox) -> dict[str, set[str]]:
    b = sbx.backend
    with b.lock:
        contacts = list(b.contacts.all_live())
        return {
            "users": {c["id"] for c in contacts if c["role"] == "user"},
            "leads": {c["id"] for c in contacts if c["role"] == "lead"},
            "conversations": {str(i) for i in b.conversations.by_id},
            "tickets": {str(i) for i in b.tickets.by_id},
        }


@pytest.mark.parametrize("precision", ["day", "second"])
@pytest.mark.parametrize("order", ["sorted", "unsorted"])
def test_full_and_incremental_syncs_are_exact_under_every_variant(
    world: RunningSandbox, monkeypatch: pytest.MonkeyPatch, precision: str, order: str
) -> None:
    monkeypatch.setattr("tap_intercom.planner.SEQUENTIAL_MAX", 100)
    monkeypatch.setattr("tap_intercom.planner.MIN_RECORDS_PER_CHAIN", 150)
    monkeypatch.setattr("tap_intercom.reader.STEAL_MIN", 150)
    b = world.backend
    b.settings.set("contact_date_precision", precision)
    b.settings.set("conversation_order", order)
    try:
        with b.lock:
            b.clock.set(D0, frozen=True)
        catalog = catalog_selecting(STREAMS)
        start_date = iso(D0 - 800 * DAY)
        first = run_tap(world.base_url, catalog=catalog, start_date=start_date, max_workers=4)
        want = truth(world)
        for stream, ids in want.items():
            got = first.ids(stream)
            assert len(got) == len(set(got)), f"{stream}: duplicates"
            assert set(got) == ids, f"{stream}: {len(ids - set(got))} missing"
        parts = first.records("conversation_parts")
        with b.lock:
            with_parts = {str(i) for i, c in b.conversations.by_id.items() if c["parts"]}
        assert {p["conversation_id"] for p in parts} == with_parts

        # Later the same day: a few contacts and conversations change.
        with b.lock:
            b.clock.set(D0 + 3 * 3600, frozen=True)
            users = sorted(want["users"])[:5]
            for cid in users:
                b.contacts.update(cid, {"name": "changed"})
            conv = b.conversations.by_id[sorted(b.conversations.by_id)[3]]
            admin = b.workspace.owner
            author = b.conversations.author_for_admin(admin)
            b.conversations.add_part(conv, part_type="comment", author=author, body="again")
            b.clock.set(D0 + 4 * 3600, frozen=True)
        second = run_tap(world.base_url, catalog=catalog, start_date=start_date, state=first.state)
        assert set(users) <= set(second.ids("users"))
        assert str(conv["id"]) in second.ids("conversations")
        assert {p["conversation_id"] for p in second.records("conversation_parts")} >= {
            str(conv["id"])
        }
    finally:
        b.settings.set("contact_date_precision", "day")
        b.settings.set("conversation_order", "sorted")
