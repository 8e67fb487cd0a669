"""RangeReader + SplitPolicy + slicing against an in-memory search with Intercom's date rules.

The fake search evaluates the same filter DSL the tap sends (AND of filters; ``>``/``<``/``=``
on the date field, by whole UTC days when ``day_granular`` (FACTS.md §2.6) or inclusive to
the second otherwise (§3); ``id $ c`` / OR groups for id parts), sorts ascending and pages
with a cursor and ``total_count``. Skewed data (a burst on one day) makes the planner cut,
split by id and steal. Checked: every record exactly once, and at every hand-over the
watermark never claims a record that has not been handed over yet.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from typing import Any

import pytest

from intercom_api import errors
from intercom_api import query as q
from tap_intercom.planner import SplitPolicy, Unit
from tap_intercom.reader import RangeReader
from tap_intercom.slicing import DAY, DayCalendar, range_slice

D0 = 1_749_513_600  # 2025-06-10 00:00 UTC
FIELD = "updated_at"


class FakeSearch:
    """An in-memory /search with Intercom's date semantics; counts the searches it ran."""

    def __init__(
        self, records: list[dict[str, Any]], *, day_granular: bool, shuffled: bool = False
    ) -> None:
        self.records = sorted(records, key=lambda r: (r[FIELD], r["id"]))
        self.day_granular = day_granular
        self.shuffled = shuffled  # a search that ignores the sort (answers in random order)
        self.queries: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._cache: dict[str, list[dict[str, Any]]] = {}

    def _match(self, node: dict[str, Any], rec: dict[str, Any]) -> bool:
        if node.get("operator") in ("AND", "OR") and "field" not in node:
            results = [self._match(child, rec) for child in node["value"]]
            return all(results) if node["operator"] == "AND" else any(results)
        field, op, value = node["field"], node["operator"], node["value"]
        have = rec[field]
        if field == "id":
            assert op == "$"
            return have.endswith(value)
        if field == "role":
            return have == value
        if self.day_granular:
            have, value = have // DAY, value // DAY
            return {"=": have == value, ">": have > value, "<": have < value}[op]
        return {"=": have == value, ">": have >= value, "<": have <= value}[op]

    def page(self, query: dict[str, Any], cursor: str | None) -> dict[str, Any]:
        q.validate(query)
        key = repr(query)
        with self.lock:
            self.queries.append(query)
            matches = self._cache.get(key)
        if matches is None:
            matches = [r for r in self.records if self._match(query, r)]
            if self.shuffled:
                random.Random(key).shuffle(matches)
            with self.lock:
                self._cache[key] = matches
        start = int(cursor or 0)
        chunk = matches[start : start + 150]
        out: dict[str, Any] = {
            "data": [dict(r) for r in chunk],
            "total_count": len(matches),
            "pages": {"type": "pages"},
        }
        if start + 150 < len(matches):
            out["pages"]["next"] = {"starting_after": str(start + 150)}
        return out


def make_records(seed: int, n: int, burst: int, burst_day: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    recs = [
        {"id": f"{rng.getrandbits(96):024x}", FIELD: D0 - rng.randint(0, 200 * DAY)}
        for _ in range(n)
    ]
    recs += [
        {"id": f"{rng.getrandbits(96):024x}", FIELD: burst_day + rng.randint(0, DAY - 1)}
        for _ in range(burst)
    ]
    return recs


def run_reader(
    fake: FakeSearch, start: int | None, end: int | None, *, workers: int
) -> tuple[list[dict[str, Any]], RangeReader]:
    cal = DayCalendar("UTC") if fake.day_granular else None
    base = (q.filter("role", "=", "user"),) if fake.day_granular else ()

    def search_page(unit: Unit, cursor: str | None) -> dict[str, Any]:
        filters = [*base, *unit.slc.filters, *unit.part] or [q.filter(FIELD, ">", 0)]
        return fake.page(q.and_(*filters), cursor)

    def shape(page: list[dict[str, Any]], unit: Unit, seen: set[str]) -> list[dict[str, Any]]:
        out = []
        for r in page:
            if unit.contains(r[FIELD]) and r["id"] not in seen:
                seen.add(r["id"])
                out.append(r)
        return out

    policy = SplitPolicy(field=FIELD, calendar=cal, workers=workers, now=D0 + DAY)
    reader = RangeReader(
        Unit(range_slice(FIELD, start, end, cal=cal)),
        search_page=search_page,
        shape=shape,
        policy=policy,
        field=FIELD,
        list_key="data",
        workers=workers,
    )
    expected = sorted(
        (
            r
            for r in fake.records
            if (start is None or r[FIELD] >= start) and (end is None or r[FIELD] < end)
        ),
        key=lambda r: r[FIELD],
    )
    got: list[dict[str, Any]] = []
    pending = {r["id"]: r[FIELD] for r in expected}
    for page in reader:
        for r in page:
            pending.pop(r["id"], None)
        got.extend(page)
        mark = reader.watermark
        if mark is not None and pending:
            assert min(pending.values()) > mark, "watermark passed a record not yet handed over"
    assert reader.watermark == (None if end is None else end - 1)
    return got, reader


def for_each_role(records: list[dict[str, Any]]) -> None:
    for r in records:
        r["role"] = "user"


@pytest.mark.parametrize("day_granular", [True, False])
@pytest.mark.parametrize("workers", [1, 3, 8])
def test_every_record_exactly_once_and_a_truthful_watermark(
    day_granular: bool, workers: int
) -> None:
    records = make_records(seed=workers, n=6000, burst=5000, burst_day=D0 - 40 * DAY)
    for_each_role(records)
    fake = FakeSearch(records, day_granular=day_granular)
    got, reader = run_reader(fake, D0 - 365 * DAY, None, workers=workers)
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids)) == len(records)
    if workers > 1:
        assert reader.units > 1  # it really ran chains side by side
    if workers == 8 and day_granular:
        # The burst day cannot be cut in time: it was read as id parts.
        assert any("$" in str(query) for query in fake.queries)


def test_bounded_range_from_a_bookmark_mid_day() -> None:
    records = make_records(seed=5, n=4000, burst=3000, burst_day=D0 - 10 * DAY)
    for_each_role(records)
    fake = FakeSearch(records, day_granular=True)
    start, end = D0 - 30 * DAY + 13 * 3600, D0 - 2 * DAY + 5
    got, _ = run_reader(fake, start, end, workers=6)
    want = {r["id"] for r in records if start <= r[FIELD] < end}
    assert [r["id"] for r in got if r["id"] in want] == [r["id"] for r in got]
    assert {r["id"] for r in got} == want


def test_no_lower_bound_starts_from_the_earliest_record() -> None:
    records = make_records(seed=9, n=3000, burst=0, burst_day=D0)
    for_each_role(records)
    fake = FakeSearch(records, day_granular=True)
    got, _ = run_reader(fake, None, None, workers=4)
    assert len({r["id"] for r in got}) == 3000
    # Cut from the data, not from the dawn of time: few searches for so few records.
    assert len(fake.queries) < 3000 / 150 + 30


def test_an_error_in_a_chain_reaches_the_consumer() -> None:
    records = make_records(seed=1, n=2000, burst=0, burst_day=D0)
    for_each_role(records)
    fake = FakeSearch(records, day_granular=False)
    calls = {"n": 0}
    original: Callable[..., dict[str, Any]] = fake.page

    def flaky(query: dict[str, Any], cursor: str | None) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] == 6:
            raise RuntimeError("boom")
        return original(query, cursor)

    fake.page = flaky  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="boom"):
        run_reader(fake, D0 - 300 * DAY, None, workers=4)


@pytest.mark.parametrize("day_granular", [True, False])
@pytest.mark.parametrize("workers", [1, 4])
def test_pages_out_of_order_lose_nothing_and_say_so_once(
    day_granular: bool, workers: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A search that ignores the sort: no early stop, no stealing, a floor watermark."""
    records = make_records(seed=workers, n=3000, burst=2000, burst_day=D0 - 20 * DAY)
    for_each_role(records)
    fake = FakeSearch(records, day_granular=day_granular, shuffled=True)
    with caplog.at_level("WARNING", logger="tap_intercom"):
        got, reader = run_reader(fake, D0 - 365 * DAY, None, workers=workers)
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids)) == len(records)
    assert not reader.ordered
    assert sum("out of ascending order" in r.getMessage() for r in caplog.records) == 1


def test_sorted_pages_keep_the_early_stop() -> None:
    records = make_records(seed=2, n=3000, burst=0, burst_day=D0)
    for_each_role(records)
    fake = FakeSearch(records, day_granular=False)
    got, reader = run_reader(fake, D0 - 365 * DAY, None, workers=4)
    assert reader.ordered and len(got) == 3000


def test_a_server_error_on_the_id_parts_of_a_busy_day_reads_it_in_one_walk() -> None:
    """``id $ c`` failing (5xx past its retries) never aborts the sync."""
    records = make_records(seed=8, n=6000, burst=5000, burst_day=D0 - 40 * DAY)
    for_each_role(records)
    fake = FakeSearch(records, day_granular=True)
    original: Callable[..., dict[str, Any]] = fake.page

    refused: list[dict[str, Any]] = []

    def no_suffix(query: dict[str, Any], cursor: str | None) -> dict[str, Any]:
        if "'$'" in str(query):
            refused.append(query)
            raise errors.ServerError(500, "server_error", "boom", None)
        return original(query, cursor)

    fake.page = no_suffix  # type: ignore[method-assign]
    got, _ = run_reader(fake, D0 - 365 * DAY, None, workers=8)
    ids = [r["id"] for r in got]
    assert len(ids) == len(set(ids)) == len(records)
    assert refused  # the split was tried


def test_a_stolen_rest_of_a_range_walked_whole_is_not_cut_again() -> None:
    """A range small enough to walk whole sets no per-chain target; when it grows past its
    estimate during the run, work stealing hands its rest to a new unit, whose probe once
    divided by that unset target (ZeroDivisionError, the stream failed)."""
    policy = SplitPolicy(field=FIELD, calendar=None, workers=8, now=D0 + DAY)
    root = Unit(range_slice(FIELD, D0 - 30 * DAY, None, cal=None))
    assert policy.split(root, 400, D0 - 29 * DAY) is None  # small: walked whole
    [rest] = policy.rest(root, D0 - 10 * DAY, None)
    assert policy.split(rest, 5000, D0 - 9 * DAY) is None
