"""Slices and their filters against the sandbox's day-granular contact search (FACTS §2.6)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
import requests
from tap_support import D0, DAY, TOKEN, SandboxControl

from intercom_api import ClientSettings, IntercomClient
from intercom_api import query as q
from intercom_sandbox.server import RunningSandbox
from tap_intercom.slicing import DayCalendar, id_suffix_parts, plan_slices, range_slice
from tap_intercom.transform import iso

# Contacts at awkward instants: midnights, a second before them, noon.
STAMPS = [D0 - d * DAY + off for d in range(10) for off in (0, 1, 43_200, DAY - 1)]


@pytest.fixture
def stamped(sandbox: RunningSandbox, ctl: SandboxControl) -> dict[str, int]:
    ids = {}
    for i, ts in enumerate(STAMPS):
        ctl.clock(ts)
        ids[ctl.contact("user", f"s{i}@example.com")["id"]] = ts
    ctl.clock(D0 + DAY)
    return ids


def search_all(client: IntercomClient, filters: tuple) -> list[dict]:
    query = q.and_(q.filter("role", "=", "user"), *filters)
    return [r for page in client.iter_search("/contacts/search", query) for r in page]


@pytest.mark.parametrize("count", [1, 3, 10])
def test_day_slices_partition_the_range_exactly(
    sandbox: RunningSandbox, api: requests.Session, stamped: dict[str, int], count: int
) -> None:
    client = IntercomClient(
        ClientSettings.from_config({"access_token": TOKEN, "api_url": sandbox.base_url})
    )
    cal = DayCalendar("UTC")
    start, end = D0 - 8 * DAY + 1, D0 - DAY + 43_200  # mid-day bounds on both sides
    slices = plan_slices("updated_at", start, end, D0 + DAY, count=count, cal=cal)
    assert len(slices) == min(count, 8)  # never more than one slice per day
    seen: dict[str, int] = {}
    for slc in slices:
        for rec in search_all(client, slc.filters):
            if slc.contains(rec["updated_at"]):
                assert rec["id"] not in seen  # slices never overlap
                seen[rec["id"]] = rec["updated_at"]
    want = {cid: ts for cid, ts in stamped.items() if start <= ts < end}
    assert seen == want  # the server-side filters select a superset of every slice


def test_whole_range_and_open_ended_filters(
    sandbox: RunningSandbox, api: requests.Session, stamped: dict[str, int]
) -> None:
    client = IntercomClient(
        ClientSettings.from_config({"access_token": TOKEN, "api_url": sandbox.base_url})
    )
    cal = DayCalendar("UTC")
    for start, end in [
        (D0 - 3 * DAY + 5, None),
        (None, D0 - 4 * DAY + 1),
        (D0 - 2 * DAY, D0 - DAY),
    ]:
        slc = range_slice("updated_at", start, end, cal=cal)
        got = {r["id"] for r in search_all(client, slc.filters) if slc.contains(r["updated_at"])}
        want = {
            cid
            for cid, ts in stamped.items()
            if (start is None or ts >= start) and (end is None or ts < end)
        }
        assert got == want, (iso(start or 0), end)


def test_id_suffix_parts_cover_every_hex_id_once() -> None:
    for k in (2, 3, 8, 16):
        parts = id_suffix_parts(k)
        assert len(parts) == k
        groups = [group if "field" not in group else {"value": [group]} for (group,) in parts]
        suffixes = [f["value"] for group in groups for f in group["value"]]
        assert sorted(suffixes) == list("0123456789abcdef")
    assert id_suffix_parts(1) == ((),)


def test_second_precise_slices_are_contiguous() -> None:
    slices = plan_slices("updated_at", 1000, 2000, 5000, count=7, cal=None)
    assert slices[0].start == 1000 and slices[-1].end == 2000
    for a, b in itertools.pairwise(slices):
        assert a.end == b.start
    assert plan_slices("updated_at", 1000, None, 5000, count=3, cal=None)[-1].end is None


def test_a_workspace_timezone_moves_the_day_boundaries() -> None:
    paris = DayCalendar("Europe/Paris")
    day = paris.day_of(D0)  # 02:00 in Paris on 2025-06-10
    assert paris.midnight(day) == D0 - 2 * 3600
    [slc] = plan_slices("updated_at", D0, D0 + 3600, D0, count=1, cal=paris)
    one = dt.timedelta(days=1)
    assert slc.filters == (
        {"field": "updated_at", "operator": ">", "value": paris.noon(day - one)},
        {"field": "updated_at", "operator": "<", "value": paris.noon(day + one)},
    )
