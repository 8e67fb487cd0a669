"""Trigger-grade polling: an incremental run costs what changed, not the whole day.

Contact search matches dates by day (FACTS.md §2.6), so a read oldest first from the
bookmark's day re-reads every contact updated since local midnight; newest first, it stops
at the bookmark (search sorts on the full timestamp). Exactly the changed contacts are
emitted, whatever the workspace's zone, with or without index lag.
"""

from __future__ import annotations

import pytest
from tap_support import D0, SandboxControl, catalog_selecting, run_tap

from intercom_sandbox.server import RunningSandbox


def contact_searches(ctl: SandboxControl) -> int:
    return sum(ctl.stats()["operations"].get("SearchContacts", {}).values())


@pytest.mark.parametrize("zone", ["UTC", "America/Los_Angeles"])
def test_ten_new_users_two_minutes_later_cost_one_search_page(
    sandbox: RunningSandbox, ctl: SandboxControl, zone: str
) -> None:
    ctl.config(timezone=zone)
    b = sandbox.backend
    day = D0 + 20 * 3600  # late in a busy day
    with b.lock:
        for i in range(3000):  # updated earlier today
            b.clock.set(day - 6 * 3600 + i * 6, frozen=True)
            b.contacts.create({"role": "user", "email": f"busy{i}@example.com"})
    ctl.clock(day)
    catalog = catalog_selecting(["users"])
    first = run_tap(sandbox.base_url, catalog=catalog)
    assert len(first.ids("users")) == 3000

    ctl.clock(day + 100)
    new = [ctl.contact("user", f"new{i}@example.com")["id"] for i in range(10)]
    ctl.clock(day + 120)
    ctl.reset_stats()
    second = run_tap(sandbox.base_url, catalog=catalog, state=first.state)
    assert sorted(second.ids("users")) == sorted(new)
    assert contact_searches(ctl) <= 2  # today's 3,000 contacts would be 21 pages


def test_a_large_change_is_handed_to_the_concurrent_reader_and_nothing_is_lost(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    b = sandbox.backend
    day = D0 + 12 * 3600
    with b.lock:
        for i in range(500):
            b.clock.set(day - 3 * 86_400 + i * 60, frozen=True)
            b.contacts.create({"role": "user", "email": f"old{i}@example.com"})
    ctl.clock(day)
    catalog = catalog_selecting(["users"])
    first = run_tap(sandbox.base_url, catalog=catalog)
    changed = []
    with b.lock:
        for i in range(1500):  # more than the newest-first pages: the rest goes to chains
            b.clock.set(day + 60 + i, frozen=True)
            c = b.contacts.create({"role": "user", "email": f"burst{i}@example.com"})
            changed.append(c["id"])
        b.clock.set(day + 4000, frozen=True)
    second = run_tap(sandbox.base_url, catalog=catalog, state=first.state, max_workers=4)
    ids = second.ids("users")
    assert len(ids) == len(set(ids)) and set(ids) == set(changed)


@pytest.mark.parametrize("order", ["deleted_at", "id"])
def test_deleted_conversations_read_only_what_was_deleted_since(
    sandbox: RunningSandbox, ctl: SandboxControl, order: str
) -> None:
    """Newest first, stopping at the bookmark; where order sorts by id (the spec does not
    say), every page, and still every new deletion exactly."""
    sandbox.backend.settings.set("deleted_order", order)
    ctl.clock(D0)
    ctl.seed(conversations=700)
    b = sandbox.backend
    ids = sorted(b.conversations.by_id, key=int)
    # 300 old deletions, in an order unrelated to the ids.
    old = ids[::2][:300]
    for k, cid in enumerate(sorted(old, key=lambda c: (int(c) * 7919) % 1009)):
        ctl.clock(D0 + 60 + k)
        assert ctl.api.delete(f"{ctl.base}/conversations/{cid}").status_code == 200
    catalog = catalog_selecting(["deleted_conversations"])
    config = {"start_date": "2020-01-01T00:00:00Z", "search_lag_margin_seconds": 0}
    ctl.clock(D0 + 3600)
    first = run_tap(sandbox.base_url, catalog=catalog, **config)
    assert len(first.ids("deleted_conversations")) == 300
    fresh = ids[1::2][:5]
    for k, cid in enumerate(fresh):
        ctl.clock(D0 + 7200 + k)
        assert ctl.api.delete(f"{ctl.base}/conversations/{cid}").status_code == 200
    ctl.clock(D0 + 7300)
    ctl.reset_stats()
    second = run_tap(sandbox.base_url, catalog=catalog, state=first.state, **config)
    assert set(second.ids("deleted_conversations")) == set(fresh)
    calls = sum(ctl.stats()["operations"]["listDeletedConversationIds"].values())
    if order == "deleted_at":
        assert calls == 1  # every deletion ever made is 6 pages
    else:
        assert calls >= 6  # read whole: nothing can be skipped
