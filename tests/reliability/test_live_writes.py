"""Writes during a sync: contacts and conversations created and updated while the tap runs,
with search lagging writes (FACTS.md §2.6), are all emitted by the next run.

The sandbox's clock is frozen; each write advances it (no sleeping). The writes are made
from a sandbox observer: a few after each response served to the tap, before the next one.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from reliability_support import D0, DAY, LEDGER, TAP_STREAMS, Ctl, run_tap

from intercom_sandbox.server import RunningSandbox
from tap_intercom.transform import iso

T = D0 + 12 * 3600  # sync start (sandbox time)
LAG = 120  # search_lag_seconds: writes reach search this long after they happen
WRITES_DURING = 30
PER_RESPONSE = 3


class Writer:
    """Writes contacts and conversations into the sandbox, one per call, 5 s apart."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.backend = sandbox.backend
        self.lock = threading.Lock()
        self.written: dict[str, set[str]] = {s: set() for s in TAP_STREAMS}
        self.n = 0
        with self.backend.lock:
            contacts = list(self.backend.contacts.all_live())
            self.users = [c["id"] for c in contacts if c["role"] == "user"]
            self.leads = [c["id"] for c in contacts if c["role"] == "lead"]
            self.conversations = list(self.backend.conversations.by_id)
        self.steps = itertools.cycle(
            (
                self.new_user,
                self.update_user,
                self.new_conversation,
                self.new_lead,
                self.reply,
                self.update_lead,
            )
        )

    def write(self) -> None:
        with self.lock, self.backend.lock:
            self.n += 1
            self.backend.clock.advance(5)
            next(self.steps)()

    def new_user(self) -> None:
        c = self.backend.contacts.create(
            {"role": "user", "email": f"live-user-{self.n}@example.com", "name": f"Live {self.n}"},
            api=True,
        )
        self.written["users"].add(c["id"])

    def new_lead(self) -> None:
        c = self.backend.contacts.create(
            {"role": "lead", "email": f"live-lead-{self.n}@example.com"}, api=True
        )
        self.written["leads"].add(c["id"])

    def update_user(self) -> None:
        cid = self.users[self.n % len(self.users)]
        self.backend.contacts.update(cid, {"name": f"Renamed {self.n}"}, api=True)
        self.written["users"].add(cid)

    def update_lead(self) -> None:
        cid = self.leads[self.n % len(self.leads)]
        self.backend.contacts.update(cid, {"name": f"Lead renamed {self.n}"}, api=True)
        self.written["leads"].add(cid)

    def new_conversation(self) -> None:
        store = self.backend.conversations
        contact = self.backend.contacts.get(self.users[self.n % len(self.users)])
        assert contact is not None
        conv = store.create(
            author=store.author_for_contact(contact),
            contact_ids=[contact["id"]],
            body=f"<p>Written during the sync ({self.n})</p>",
        )
        self.written["conversations"].add(conv["id"])

    def reply(self) -> None:
        store = self.backend.conversations
        conv = store.get(self.conversations[self.n % len(self.conversations)])
        assert conv is not None
        contact = self.backend.contacts.get(conv["contact_ids"][0])
        assert contact is not None
        store.add_part(
            conv,
            part_type="comment",
            author=store.author_for_contact(contact),
            body=f"<p>Reply during the sync ({self.n})</p>",
        )
        self.written["conversations"].add(conv["id"])


def current(sandbox: RunningSandbox, stream: str, oid: str) -> dict[str, Any]:
    with sandbox.backend.lock:
        if stream == "conversations":
            obj = sandbox.backend.conversations.get(oid)
        else:
            obj = sandbox.backend.contacts.get(oid)
        assert obj is not None
        return dict(obj)


def test_contacts_and_conversations_written_during_a_sync_are_emitted_next_run(
    sandbox: RunningSandbox, ctl: Ctl
) -> None:
    ctl.clock(T - 200 * DAY)
    ctl.seed(users=600, leads=150, conversations=150, companies=5)
    ctl.clock(T - 30)
    ctl.config(search_lag_seconds=LAG)
    writer = Writer(sandbox)
    writer.write()  # 25 s before the sync: still invisible to its searches
    writer.write()
    ctl.clock(T)

    def write_between_pages(operation_id: str, status: int, payload: bytes) -> None:
        for _ in range(PER_RESPONSE):
            if writer.n < WRITES_DURING:
                writer.write()

    sandbox.app.observers.append(write_between_pages)
    try:
        first = run_tap(sandbox.base_url)
    finally:
        sandbox.app.observers.remove(write_between_pages)
    assert writer.n >= 12, "the sync made too few requests to write during it"
    unseen = [
        oid
        for stream in TAP_STREAMS
        for oid in writer.written[stream]
        if oid not in first.ids(stream)
    ]
    assert unseen, "every write reached the first run: the lag was not exercised"
    bookmark = first.last_state
    assert bookmark is not None
    # The tap reads sync start from its first response's Date header, which the writes made
    # after that first response (5 s each) may already have moved.
    sync_start_at_most = T + 5 * PER_RESPONSE
    for stream in TAP_STREAMS:
        value = bookmark["bookmarks"][stream]["replication_key_value"]
        assert value <= iso(sync_start_at_most - 600)  # minus the default search lag margin

    ctl.advance(LAG + 60)  # every write is searchable now
    second = run_tap(sandbox.base_url, state=bookmark)
    missed: list[str] = []
    for stream in TAP_STREAMS:
        latest = second.latest(stream)
        LEDGER.records_checked[f"tap {stream} written during a sync"] += len(writer.written[stream])
        for oid in sorted(writer.written[stream]):
            if oid not in latest:
                missed.append(f"{stream} {oid}")
                continue
            now = current(sandbox, stream, oid)
            assert latest[oid]["updated_at"] == iso(now["updated_at"]), f"{stream} {oid}"
            if stream != "conversations":
                assert latest[oid].get("name") == now.get("name"), f"{stream} {oid}"
    LEDGER.records_lost += len(missed)
    assert not missed, f"not emitted by the next run: {missed}"
    assert all(writer.written.values())
