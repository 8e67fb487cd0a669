"""Contact search days are the workspace's: the tap reads the zone from GET /me (FACTS §2.6).

The sandbox runs in a zone west and one east of UTC (and across DST changes); contacts are
written just before and after local midnight and UTC midnight; every run must emit exactly
the contacts changed after its bookmark, and a full sync on day slices must emit them all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tap_support import TOKEN, catalog_selecting, run_tap

from intercom_sandbox.server import RunningSandbox, start
from tap_intercom.transform import iso

ZONES = ("America/Los_Angeles", "Asia/Tokyo")
MARGIN = 600


class Workspace:
    """A sandbox in a given zone, with contacts written at chosen instants."""

    def __init__(self, sbx: RunningSandbox) -> None:
        self.base = sbx.base_url
        self.s = requests.Session()
        self.s.headers["Authorization"] = f"Bearer {TOKEN}"

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.s.post(f"{self.base}{path}", json=body, timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def reset(self, zone: str) -> None:
        self.post("/_sandbox/reset", {})
        self.post("/_sandbox/config", {"timezone": zone, "search_lag_seconds": 0})

    def at(self, ts: int) -> None:
        self.post("/_sandbox/clock", {"set": ts, "frozen": True})

    def user(self, ts: int, n: int) -> str:
        self.at(ts)
        return str(self.post("/contacts", {"role": "user", "email": f"u{n}@tz.example"})["id"])


@pytest.fixture(scope="module")
def ws() -> Iterator[Workspace]:
    sbx = start(tokens=[TOKEN], random_seed=7, rate_limit_per_minute=10_000_000)
    try:
        yield Workspace(sbx)
    finally:
        sbx.stop()


def local_midnight(zone: str, day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)).timestamp())


def boundary_instants(zone: str, day: dt.date) -> list[int]:
    """Seconds around that day's local midnight and the UTC midnight of the same date."""
    utc = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())
    local = local_midnight(zone, day)
    return sorted({t + d for t in (local, utc) for d in (-3600, -1, 0, 1, 3600)})


# Days either side of a DST change in Los Angeles (2026-03-08, 2026-11-01) and plain days.
DAYS = (dt.date(2026, 6, 15), dt.date(2026, 3, 8), dt.date(2026, 11, 1), dt.date(2026, 1, 20))


@settings(
    max_examples=30,
    derandomize=True,  # the same examples on every run: CI neither flakes nor drifts
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    day=st.sampled_from(DAYS),
    # The bookmark sits near one of the boundary instants (where days are cut wrong).
    near=st.integers(min_value=0, max_value=19),
    delta=st.sampled_from([-5400, -1800, -1, 0, 1, 1800, 5400]),
    picks=st.lists(st.integers(min_value=0, max_value=19), min_size=1, max_size=8, unique=True),
)
# The case: a users bookmark of 2026-06-15T01:00Z on a Los Angeles workspace, users
# updated at 06:00Z and 06:59:59Z that UTC day (still June 14 in Los Angeles).
@example(zone="America/Los_Angeles", day=DAYS[0], near=4, delta=0, picks=[5, 6])
def test_incremental_runs_emit_every_contact_changed_after_the_bookmark(
    ws: Workspace, zone: str, day: dt.date, near: int, delta: int, picks: list[int]
) -> None:
    ws.reset(zone)
    instants = boundary_instants(zone, day)
    instants += [t + 86_400 for t in instants]  # the next day's boundaries too
    written = {ws.user(instants[i % len(instants)], i): instants[i % len(instants)] for i in picks}
    bookmark = instants[near] + delta
    now = max(instants) + MARGIN + 3600
    ws.at(now)
    state = {
        "bookmarks": {
            "users": {"replication_key": "updated_at", "replication_key_value": iso(bookmark)}
        }
    }
    run = run_tap(ws.base, state=state, start_date="2020-01-01T00:00:00Z")
    want = {cid for cid, ts in written.items() if ts > bookmark}
    assert set(run.ids("users")) == want, (zone, iso(bookmark), sorted(written.values()))
    # The next run from this run's state emits nothing it did not change.
    again = run_tap(ws.base, state=run.state, start_date="2020-01-01T00:00:00Z")
    assert set(again.ids("users")) <= want


@pytest.mark.parametrize("zone", ZONES)
def test_a_full_sync_on_day_slices_emits_every_contact(
    ws: Workspace, zone: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut into day slices on 4 workers (small chains), many contacts at day boundaries."""
    monkeypatch.setattr("tap_intercom.planner.SEQUENTIAL_MAX", 50)
    monkeypatch.setattr("tap_intercom.planner.MIN_RECORDS_PER_CHAIN", 60)
    monkeypatch.setattr("tap_intercom.reader.STEAL_MIN", 60)
    ws.reset(zone)
    ids: set[str] = set()
    n = 0
    for k in range(12):
        day = dt.date(2026, 10, 25) + dt.timedelta(days=k)  # spans the 2026-11-01 DST change
        for t in boundary_instants(zone, day):
            for _ in range(8):
                ids.add(ws.user(t, n))
                n += 1
    ws.at(local_midnight(zone, dt.date(2026, 11, 8)) + 2 * 3600)
    run = run_tap(ws.base, start_date="2026-10-20T00:00:00Z", max_workers=4)
    assert sorted(run.ids("users")) == sorted(ids)


def test_a_configured_zone_that_disagrees_with_the_workspace_stops_the_run(
    ws: Workspace,
) -> None:
    ws.reset("Asia/Tokyo")
    ws.at(local_midnight("Asia/Tokyo", dt.date(2026, 6, 15)))
    with pytest.raises(Exception) as err:
        run_tap(
            ws.base,
            catalog=catalog_selecting(["users"]),
            workspace_timezone="America/New_York",
        )
    text = str(err.value)
    assert "America/New_York" in text and "Asia/Tokyo" in text


def test_a_configured_alias_of_the_workspace_zone_is_accepted(ws: Workspace) -> None:
    ws.reset("America/Los_Angeles")
    ws.user(local_midnight("America/Los_Angeles", dt.date(2026, 6, 15)) + 5, 1)
    ws.at(local_midnight("America/Los_Angeles", dt.date(2026, 6, 16)))
    run = run_tap(ws.base, catalog=catalog_selecting(["users"]), workspace_timezone="US/Pacific")
    assert len(run.ids("users")) == 1
