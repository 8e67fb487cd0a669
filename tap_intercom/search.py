"""SearchStream: streams read through Intercom's search endpoints, incremental on a timestamp.

What a sync does (streams declare only path, list key, base filters, day granularity):
1. Bounds: records strictly after the bookmark (or from ``start_date``) and before ``end_date``.
2. The range is probed (first page of its search, ``per_page`` 150 on every page, sorted
   ascending on the replication key); small, it is walked; large, it is cut into time slices
   (whole days for contacts, in the workspace's timezone, FACTS.md §2.6), each probed and
   walked (or cut again) side by side on the run's request pool (``planner``, ``reader``).
   Pool threads move raw pages; the stream's own thread parses, shapes (``shape``: range
   filter, ``enrich``, timestamps) and emits them as they arrive. The bookmark is the
   reader's watermark: every record at or before it was emitted
   (``sdk_hooks.WatermarkBookmark``).
3. The bookmark never passes the signpost = sync start - ``search_lag_margin_seconds``:
   contact search lags writes by minutes (FACTS.md §2.6), so a contact written just before
   the run may be invisible now; the next run starts early enough to see it.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Generator, Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

import msgspec
import orjson
from typing_extensions import override

from intercom_api import errors
from intercom_api import query as q
from intercom_api.pagination import LoopGuard, next_cursor
from tap_intercom.client import IntercomStream
from tap_intercom.planner import SplitPolicy, Unit
from tap_intercom.reader import PageMeta, RangeReader
from tap_intercom.sdk_hooks import WatermarkBookmark
from tap_intercom.slicing import DayCalendar, range_slice
from tap_intercom.transform import iso

if TYPE_CHECKING:
    from singer_sdk.helpers import types

    from tap_intercom.context import RunContext

log = logging.getLogger("tap_intercom")

PER_PAGE = 150  # Intercom's maximum page size (FACTS.md §2.5, §2.6); sent on every page
STATE_FLUSH_RECORDS = 100  # divides the SDK's STATE_MSG_FREQUENCY (10,000)
# An incremental contact read goes newest first for this many pages, then hands what is left
# to the concurrent reader (a change that large is read faster by chains side by side).
HEAD_PAGES = 4


class SearchStream(WatermarkBookmark, IntercomStream):
    """A stream read through Intercom's search endpoint, incrementally on a timestamp key."""

    search_path: ClassVar[str]
    day_granular: ClassVar[bool] = False  # contact search matches dates by day (FACTS §2.6)
    # The field searched, sliced and watermarked; None: the replication key. A stream that
    # emits children of what it searches (conversation_parts) names its parents' field.
    search_key: ClassVar[str | None] = None
    # Records leave in arrival order, but the bookmark is a watermark (every record at or
    # before it was emitted), so an interrupted sync resumes correctly: what the SDK's
    # is_sorted promises.
    is_sorted = True
    check_sorted = False

    def __init__(self, tap: Any, run: RunContext) -> None:
        super().__init__(tap, run)
        by_created = run.options.replicate_by_created_at
        self.replication_key = "created_at" if self.name in by_created else "updated_at"
        self._state_high: str | None = None
        self._lookup_mode = False
        self._since_flush = 0
        self._reader: RangeReader | None = None
        self._complete = False  # the whole range was emitted: the bookmark is the signpost
        self._meta_key: tuple[str, str] | None = None
        self._meta_dec: msgspec.json.Decoder[Any] | None = None

    def base_filters(self) -> tuple[dict[str, Any], ...]:
        """Filters every query of this stream carries (e.g. ``role = user``)."""
        return ()

    def enrich(self, records: list[dict[str, Any]]) -> None:
        """Add derived fields to a page's records, before timestamps are converted."""

    def on_expected(self, total: int) -> None:
        """Called (on the stream's thread) once the size of the range is known."""

    def lookup_ids(self) -> list[str] | None:
        """Ids to read one by one instead of searching (None: search)."""
        return None

    @property
    def search_field(self) -> str:
        return self.search_key or self.replication_key

    def _query(self, filters: Iterable[dict[str, Any]]) -> dict[str, Any]:
        items = [*self.base_filters(), *filters]
        if not items:
            items = [q.filter(self.search_field, ">", 0)]
        return q.and_(*items)

    @property
    def _sort(self) -> dict[str, str]:
        return {"field": self.search_field, "order": "ascending"}

    @override
    def get_replication_key_signpost(
        self, context: types.Context | None = None
    ) -> dt.datetime | None:
        if self.lookup_ids() is not None:
            return None
        return super().get_replication_key_signpost(context)

    # -- the bookmark: the reader's watermark (sdk_hooks.WatermarkBookmark) --------------------
    @override
    def on_record(self, context: types.Context | None) -> None:
        # Capped at the signpost: the SDK caps only unsorted streams, and records here leave
        # in arrival order. Updated once per STATE_FLUSH_RECORDS records.
        if self._lookup_mode:
            return  # a read by ids says nothing about what else changed
        self._since_flush += 1
        if self._since_flush >= STATE_FLUSH_RECORDS:
            self._flush_state(context)

    def _flush_state(self, context: types.Context | None) -> None:
        self._since_flush = 0
        if self._complete:
            mark = None  # every record of the range was emitted
        elif self._reader is None:
            return  # reading newest first (_head): nothing is final before the bookmark
        else:
            mark = self._reader.watermark
        cap = self.signpost_ts()
        value = cap if mark is None else min(mark, cap)
        if value < 0:
            return  # nothing known yet of a range with no lower bound
        text = iso(value)
        if self._state_high is None or text > self._state_high:
            self._state_high = text
            self.save_bookmark(text, context)

    # -- reading ----------------------------------------------------------------------------
    @override
    def get_records(self, context: types.Context | None) -> Iterable[dict[str, Any]]:
        self._state_high = None
        self._since_flush = 0
        self._reader = None
        self._complete = False
        self.extracted_now()
        ids = self.lookup_ids()
        self._lookup_mode = ids is not None
        if ids is not None:
            yield from self.records_by_id(ids)
            return
        start, end = self._bounds(context)
        state = self.get_context_state(context)
        resumed = state.get("replication_key") == self.replication_key and bool(
            state.get("replication_key_value")
        )
        for page in self._pages(start, end, from_bookmark=resumed):
            self.extracted_now()
            yield from page
        # Resumed after the SDK handled the last record: its bookmark goes in before finalizing.
        self._flush_state(context)

    def _head(
        self, start: int, cal: DayCalendar
    ) -> Generator[list[dict[str, Any]], None, int | None]:
        """Read an incremental range newest first; stop at the bookmark. Returns None when
        the whole range was read, else ``cut``: everything after ``cut`` was emitted and
        ``[start, cut]`` is left to the sliced, concurrent reader.

        Contact search matches dates by day (FACTS.md §2.6), so the range's query starts at
        the bookmark's local midnight: read oldest first, a run late in a busy day re-reads
        the whole day. But search sorts on the full timestamp (§2.6): newest first, the read
        stops at the first record at or before the bookmark, and its cost follows what
        changed. Nothing older can be missed: a record at or before the bookmark (which is
        at most sync start minus the lag margin) was searchable when the previous run read,
        and that run emitted it. Past HEAD_PAGES pages (a large change), the rest goes to
        the concurrent reader. Out of order pages: no early stop, every page is read.
        """
        rk = self.search_field
        unit = Unit(range_slice(rk, start, None, cal=cal))
        guard = LoopGuard("POST", self.search_path)
        seen: set[str] = set()
        cursor: str | None = None
        previous: int | None = None  # the oldest stamp so far
        ordered = True
        pages = 0
        while True:
            content = self._search_page_raw(unit, cursor, newest_first=True)
            pages += 1
            meta = self._page_meta(content)
            stamps = meta.stamps
            if ordered and not _descending(stamps, previous):
                ordered = False
                log.warning(
                    "%s: search pages newest first came out of order on %s; reading them "
                    "all (no early stop)",
                    self.name,
                    rk,
                )
            oldest = min(stamps) if stamps else previous
            previous = oldest if previous is None or oldest is None else min(previous, oldest)
            records = self._parse_page(content)
            cursor = meta.cursor
            reached = ordered and oldest is not None and oldest < start
            switch = (
                ordered
                and not reached
                and cursor is not None
                and oldest is not None
                and pages >= HEAD_PAGES
            )
            if switch:
                # Leave the oldest second of this page to the reader: its other records may
                # be on the next page.
                records = [r for r in records if _stamp(r, rk) != oldest]
            out = self.shape(records, unit, seen)
            if out:
                yield out
            if reached or cursor is None:
                return None
            if switch:
                assert oldest is not None
                return oldest
            guard.check(cursor)

    def records_by_id(self, ids: list[str]) -> Iterator[dict[str, Any]]:
        """Records read one by one (streams with a lookup setting override this)."""
        raise NotImplementedError

    def _pages(
        self, start: int | None, end: int | None, *, from_bookmark: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        rk = self.search_field
        # Contact search days are the workspace's (FACTS.md §2.6): GET /me says which zone.
        cal = DayCalendar(self.run.workspace_timezone()) if self.day_granular else None
        if cal is not None and from_bookmark and start is not None and end is None:
            # An incremental run: newest changes first, down to the bookmark (see _head).
            cut = yield from self._head(start, cal)
            if cut is None:
                self._complete = True
                return
            end = cut + 1  # the rest, [start, cut], as sliced chains
        offset = self.client.server_clock_offset() or 0.0
        now = int(dt.datetime.now(dt.timezone.utc).timestamp() + offset)
        policy = SplitPolicy(field=rk, calendar=cal, workers=self.max_workers, now=now)
        self._reader = RangeReader(
            Unit(range_slice(rk, start, end, cal=cal)),
            search_page=self._search_page_raw,
            shape=self.shape,
            policy=policy,
            field=rk,
            list_key=self.list_key,
            workers=self.max_workers,
            pool=self.run.pool,
            spare=self.run.pool.spare,
            on_expected=self.on_expected,
            meta=self._page_meta,
            parse=self._parse_page,
            path=self.search_path,
        )
        yield from self._reader
        self._complete = True
        self.logger.info(
            "%s: read as %d chains (%d splits), up to %d requests in flight",
            self.name,
            self._reader.units,
            self._reader.probes,
            self._reader.window(),
        )

    def _search_page_raw(
        self, unit: Unit, cursor: str | None, *, newest_first: bool = False
    ) -> bytes:
        """One page of a unit's search, unparsed; checked to be whole JSON (on a pool thread)."""
        sort = self._sort
        if newest_first:
            sort = {**sort, "order": "descending"}
        for attempt in range(3):
            content = self.client.search_raw(
                self.search_path,
                self._query(unit.slc.filters + unit.part),
                sort=sort,
                per_page=PER_PAGE,
                starting_after=cursor,
            )
            try:
                self._page_meta(content)
                return content
            except msgspec.DecodeError:
                log.warning("%s: garbled search page (attempt %d of 3)", self.name, attempt + 1)
        raise errors.IntercomError(
            200, "invalid_json", "the search page is not valid JSON", None, path=self.search_path
        )

    def _meta_decoder(self) -> msgspec.json.Decoder[Any]:
        """A decoder reading only what steers a walk: count, total, cursor, sort keys."""
        key = (self.list_key, self.search_field)
        if self._meta_dec is None or self._meta_key != key:
            rec = msgspec.defstruct("Rec", [(self.search_field, Any, None)])
            fields: list[tuple[str, Any, Any]] = [
                (self.list_key, list[rec] | None, None),  # type: ignore[valid-type]
                ("total_count", Any, None),
                ("pages", Any, None),
            ]
            self._meta_dec = msgspec.json.Decoder(msgspec.defstruct("Page", fields))
            self._meta_key = key
        return self._meta_dec

    def _page_meta(self, content: bytes) -> PageMeta:
        """Count, total, cursor and sort keys of a raw page, without building its records."""
        page = self._meta_decoder().decode(content)
        records = getattr(page, self.list_key) or []
        rk = self.search_field
        stamps = [v for v in (getattr(r, rk) for r in records) if v.__class__ is int]
        total = page.total_count
        pages = page.pages
        cursor = next_cursor({"pages": pages}) if isinstance(pages, dict) else None
        return PageMeta(len(records), total if isinstance(total, int) else None, cursor, stamps)

    def _parse_page(self, content: bytes) -> list[dict[str, Any]]:
        """A raw page's records (on the consumer thread)."""
        return orjson.loads(content).get(self.list_key) or []

    def shape(self, page: list[dict[str, Any]], unit: Unit, seen: set[str]) -> list[dict[str, Any]]:
        """Keep the unit's own records (once each), enrich them, convert timestamps."""
        rk = self.search_field
        contains = unit.contains
        out = []
        for rec in page:
            ts = rec.get(rk)
            if ts.__class__ is not int:
                if not isinstance(ts, (int, float)):
                    log.warning("%s %s has no %s; skipped", self.name, rec.get("id"), rk)
                    continue
                ts = int(ts)
            if not contains(ts):
                continue  # another slice's (or already emitted): see slicing.py
            rid = rec.get("id")
            if rid in seen:
                continue
            seen.add(rid)
            out.append(rec)
        if out:
            self.enrich(out)
            convert = self._convert
            for rec in out:
                convert(rec)
        return out


def _descending(stamps: list[int], before: int | None) -> bool:
    """Sort keys newest first, none newer than the previous page's oldest."""
    prev = before
    for ts in stamps:
        if prev is not None and ts > prev:
            return False
        prev = ts
    return True


def _stamp(record: dict[str, Any], field: str) -> int | None:
    ts = record.get(field)
    return int(ts) if isinstance(ts, (int, float)) and not isinstance(ts, bool) else None
