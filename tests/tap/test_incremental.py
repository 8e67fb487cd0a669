"""No missed records: day-granular contact search, search lag, quiet runs (FACTS.md §2.6)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from tap_support import D0, DAY, SandboxControl, run_tap

from intercom_api import IntercomClient
from intercom_sandbox.server import RunningSandbox
from tap_intercom.transform import iso

START = iso(D0 - 10 * DAY)


def test_update_later_the_same_day_as_the_bookmark_is_emitted(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0 + 9 * 3600 - 3 * DAY)
    older = ctl.contact("user", "older@example.com")
    ctl.clock(D0 + 9 * 3600)
    latest = ctl.contact("user", "latest@example.com")
    ctl.clock(D0 + 12 * 3600)
    first = run_tap(sandbox.base_url, start_date=START)
    assert set(first.ids("users")) == {older["id"], latest["id"]}
    # Done with the range: the bookmark is the signpost (sync start - the 600 s lag margin).
    assert iso(D0 + 9 * 3600) <= first.bookmark("users") <= iso(D0 + 12 * 3600 - 600)  # type: ignore[operator]

    # Later the same UTC day: `updated_at > bookmark` would only match from tomorrow.
    ctl.clock(D0 + 15 * 3600)
    ctl.update(older["id"], name="Renamed")
    ctl.clock(D0 + 18 * 3600)
    second = run_tap(sandbox.base_url, start_date=START, state=first.state)
    assert second.ids("users") == [older["id"]]
    assert second.records("users")[0]["name"] == "Renamed"
    assert iso(D0 + 15 * 3600) <= second.bookmark("users") <= iso(D0 + 18 * 3600 - 600)  # type: ignore[operator]


def test_contacts_written_just_before_and_during_a_lagging_run_are_emitted_next_run(
    sandbox: RunningSandbox, ctl: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = D0 + 12 * 3600
    ctl.config(search_lag_seconds=60)
    ctl.clock(t - 3600)
    visible = ctl.contact("user", "visible@example.com")
    ctl.clock(t - 30)
    before = ctl.contact("user", "before@example.com")  # indexed only at t + 30
    ctl.clock(t)

    during: list[dict[str, Any]] = []
    once = threading.Lock()  # streams search side by side
    original = IntercomClient.search_raw

    def search_and_write(self: IntercomClient, *args: Any, **kwargs: Any) -> bytes:
        with once:
            if not during:  # a contact written while the run is under way (at t + 5)
                ctl.advance(5)
                during.append(ctl.contact("user", "during@example.com"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(IntercomClient, "search_raw", search_and_write)
    first = run_tap(sandbox.base_url, start_date=START, search_lag_margin_seconds=120)
    monkeypatch.setattr(IntercomClient, "search_raw", original)
    assert first.ids("users") == [visible["id"]]  # the other two are not searchable yet
    # The bookmark stays at or before sync start minus the margin.
    assert first.bookmark("users") is not None
    assert first.bookmark("users") <= iso(t - 120)

    ctl.advance(120)  # every write is indexed now
    second = run_tap(
        sandbox.base_url, start_date=START, search_lag_margin_seconds=120, state=first.state
    )
    assert set(second.ids("users")) == {before["id"], during[0]["id"]}


def test_a_run_with_no_changes_emits_almost_nothing_in_a_handful_of_calls(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=700, leads=200, conversations=150, companies=10)
    ctl.advance(3600)
    first = run_tap(sandbox.base_url, start_date=iso(D0 - 400 * DAY))
    assert len(first.records("users")) == 700
    assert len(first.records("leads")) == 200
    assert len(first.records("conversations")) == 150

    ctl.advance(60)
    ctl.reset_stats()
    second = run_tap(sandbox.base_url, start_date=iso(D0 - 400 * DAY), state=first.state)
    emitted = sum(len(second.records(s)) for s in ("users", "leads", "conversations"))
    calls = ctl.stats()["total"]
    print(f"quiet run: {emitted} records, {calls} API calls")
    assert emitted <= 5
    assert calls <= 6
    for stream in ("users", "leads", "conversations"):
        assert second.bookmark(stream) is not None
        assert second.bookmark(stream) >= first.bookmark(stream)  # type: ignore[operator]


def test_end_date_and_created_at_replication(sandbox: RunningSandbox, ctl: SandboxControl) -> None:
    ctl.clock(D0 - 5 * DAY)
    old = ctl.contact("user", "old@example.com")
    ctl.clock(D0 - 1 * DAY)
    new = ctl.contact("user", "new@example.com")
    ctl.clock(D0)
    ctl.update(old["id"], name="Touched")  # updated, but not new

    by_created = run_tap(
        sandbox.base_url, start_date=iso(D0 - 2 * DAY), replicate_by_created_at=["users"]
    )
    assert by_created.ids("users") == [new["id"]]
    assert by_created.state["bookmarks"]["users"]["replication_key"] == "created_at"

    by_updated = run_tap(sandbox.base_url, start_date=iso(D0 - 2 * DAY))
    assert set(by_updated.ids("users")) == {new["id"], old["id"]}  # newest first, any order

    bounded = run_tap(sandbox.base_url, start_date=iso(D0 - 10 * DAY), end_date=iso(D0 - 3600))
    assert bounded.ids("users") == [new["id"]]  # old's update at D0 is past end_date
