"""Workspace streams: admins, teams, tags, segments, data attributes, articles, activity logs.

Small lists read whole on every run (full table), except articles (incremental on
``updated_at``, filtered on our side) and activity logs (incremental on ``created_at``, read
in time windows).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Iterator
from typing import Any, ClassVar

from typing_extensions import override

from intercom_api.pagination import Page, ordered_map, walk_numbered
from tap_intercom.streams.listing import ListStream

DAY = 86_400


class SimpleListStream(ListStream):
    """One GET returning the whole list under ``list_key`` (no pagination, FACTS.md §4)."""

    path: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        yield self.client.get(self.path, self.params).get(self.list_key) or []


class AdminsStream(SimpleListStream):
    """GET /admins → ``admin.list`` (FACTS.md §4)."""

    name = "admins"
    path = "/admins"
    list_key = "admins"


class TeamsStream(SimpleListStream):
    """GET /teams → ``team.list`` (FACTS.md §4)."""

    name = "teams"
    path = "/teams"
    list_key = "teams"


class TagsStream(SimpleListStream):
    """GET /tags → ``list`` of tags (FACTS.md §4)."""

    name = "tags"
    path = "/tags"
    list_key = "data"


class SegmentsStream(SimpleListStream):
    """GET /segments with each segment's member count (FACTS.md §4)."""

    name = "segments"
    path = "/segments"
    list_key = "segments"
    params: ClassVar[dict[str, Any]] = {"include_count": "true"}


class DataAttributesStream(SimpleListStream):
    """GET /data_attributes?model=… (FACTS.md §4), archived attributes included.

    Built-in attributes have no ``id`` (only custom ones do), so the key is ``full_name``.
    """

    path = "/data_attributes"
    list_key = "data"
    primary_keys: ClassVar[list[str]] = ["full_name"]  # type: ignore[misc]
    model: ClassVar[str]

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        params = {"model": self.model, "include_archived": "true"}
        yield self.client.get(self.path, params).get(self.list_key) or []

    @override
    def prepare(self, record: dict[str, Any]) -> None:
        if not record.get("full_name"):
            record["full_name"] = record.get("name")


class ContactAttributesStream(DataAttributesStream):
    name = "contact_attributes"
    model = "contact"


class CompanyAttributesStream(DataAttributesStream):
    name = "company_attributes"
    model = "company"


# -- articles ---------------------------------------------------------------------------------
ARTICLES_PER_PAGE = 150


class ArticlesStream(ListStream):
    """GET /articles, newest update first [S16:2108]; incremental on ``updated_at``.

    The list has no filter, but its order lets a run stop at the first page that reaches
    back before the bookmark.
    """

    name = "articles"
    list_key = "data"
    incremental_key = "updated_at"

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        def older(page: Page) -> bool:
            last = page[-1].get("updated_at")
            return start is not None and isinstance(last, int) and last < start

        yield from walk_numbered(
            self.client.get,
            "/articles",
            list_key=self.list_key,
            params={"per_page": ARTICLES_PER_PAGE},
            stop=older,
        )


# -- activity logs ----------------------------------------------------------------------------
ACTIVITY_WINDOW_DAYS = 30
ACTIVITY_MAX_WINDOWS = 24  # a long first run widens its windows instead of adding calls
ACTIVITY_PER_PAGE = 60
DEFAULT_HISTORY_DAYS = 365  # where to start when neither state, start_date nor /me says


class ActivityLogsStream(ListStream):
    """GET /admins/activity_logs in time windows [S16:550]; incremental on ``created_at``.

    ``created_at_after`` is required, so a run covers [start, now) as windows of
    ``ACTIVITY_WINDOW_DAYS`` (wider when that would make more than ``ACTIVITY_MAX_WINDOWS``)
    read concurrently, emitted in order. Each window asks for a second more on both sides
    (the spec does not say whether the bounds are inclusive) and keeps exactly its own
    records. Without state or ``start_date``, the start is the workspace's creation (GET
    /me, ``app.created_at``).
    """

    name = "activity_logs"
    list_key = "activity_logs"
    incremental_key = "created_at"

    def _first_second(self) -> int:
        app = self.run.me().get("app") or {}
        created = app.get("created_at")
        if isinstance(created, int) and created > 0:
            return created
        return int(time.time()) - DEFAULT_HISTORY_DAYS * DAY

    def _window(self, bounds: tuple[int, int]) -> Page:
        lo, hi = bounds
        out: Page = []
        params = {
            "created_at_after": str(lo - 1),
            "created_at_before": str(hi),
            "per_page": ACTIVITY_PER_PAGE,
        }
        for page in walk_numbered(
            self.client.get, "/admins/activity_logs", list_key=self.list_key, params=params
        ):
            for rec in page:
                ts = rec.get("created_at")
                if not isinstance(ts, int) or lo <= ts < hi:
                    out.append(rec)
        return out

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        lo = start if start is not None else self._first_second()
        offset = self.client.server_clock_offset() or 0.0
        hi = end if end is not None else int(time.time() + offset) + 1
        if lo >= hi:
            return
        step = max(ACTIVITY_WINDOW_DAYS * DAY, math.ceil((hi - lo) / ACTIVITY_MAX_WINDOWS))
        count = max(1, math.ceil((hi - 1 - lo) / step))  # hi is now + 1: no 1 s window
        edges = [lo + i * step for i in range(count)] + [hi]
        windows = list(itertools.pairwise(edges))
        # Each window is walked on the run's pool (a leaf: it waits only on the API).
        yield from ordered_map(self._window, windows, self.run.pool, self.max_workers)
