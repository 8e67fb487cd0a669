"""Streams `companies` (GET /companies/scroll) and `company_segments` (one call per company).

The scroll is the only listing of every company (POST /companies/list stops at 10,000,
FACTS.md §4); walking it (one scroll per app, restarts, the loop guard) is
``intercom_api.pagination.Scroll``'s job.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import ClassVar
from urllib.parse import quote

from typing_extensions import override

from intercom_api import IntercomClient, errors
from intercom_api.pagination import Page, Scroll, ScrollError, ordered_map
from tap_intercom.streams.listing import ListStream

log = logging.getLogger("tap_intercom")

__all__ = ["CompaniesStream", "CompanyScroll", "CompanySegmentsStream", "ScrollError"]

SCROLL_PATH = "/companies/scroll"
SCROLL_WAIT_SECONDS = 300.0  # waiting for another scroll to end or expire (1 min unused)
SCROLL_POLL_SECONDS = 10.0
SCROLL_RESTARTS = 3
# How the scroll waits; a module attribute so tests can move a sandbox clock instead.
SLEEP: Callable[[float], None] = time.sleep


class CompanyScroll(Scroll):
    """The company scroll, with this module's waits (read when created: tests change them)."""

    def __init__(self, client: IntercomClient) -> None:
        super().__init__(
            client,
            SCROLL_PATH,
            sleep=lambda seconds: SLEEP(seconds),
            wait_seconds=SCROLL_WAIT_SECONDS,
            poll_seconds=SCROLL_POLL_SECONDS,
            restarts=SCROLL_RESTARTS,
        )


class CompaniesStream(ListStream):
    """Every company via the scroll; incremental on ``updated_at``, filtered on our side.

    Only companies with at least one user are listed (FACTS.md §4). The scroll reads them
    all anyway, so the ids it saw serve ``company_segments`` in the same run.
    """

    name = "companies"
    list_key = "data"
    incremental_key = "updated_at"

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        scroll = self.run.company_scroll = CompanyScroll(self.client)
        yield from scroll.pages()


class CompanySegmentsStream(ListStream):
    """GET /companies/{id}/segments for every company [S16:6508], full table.

    Segment membership does not move a company's ``updated_at``, so every company is asked
    each run, side by side on the run's request pool. The ids come from this run's ``companies``
    scroll when that stream ran; otherwise from a scroll of its own.
    """

    name = "company_segments"
    list_key = "data"
    runs_after: ClassVar[tuple[str, ...]] = ("companies",)  # reuses its scroll (one per app)
    primary_keys: ClassVar[list[str]] = ["company_id", "id"]  # type: ignore[misc]

    def _company_ids(self) -> list[str]:
        # This run's scroll if `companies` ran (complete, or left live by an early stop).
        scroll = self.run.company_scroll
        if scroll is None:
            scroll = self.run.company_scroll = CompanyScroll(self.client)
        for _ in scroll.pages():  # nothing left to read if `companies` finished it
            pass
        return scroll.ids

    def _segments(self, company_id: str) -> Page:
        try:
            data = self.client.get(f"/companies/{quote(company_id, safe='')}/segments")
        except errors.NotFoundError:
            log.info("company_segments: company %s was deleted during the run; skipped", company_id)
            return []
        out = []
        for seg in data.get(self.list_key) or []:
            if isinstance(seg, dict):
                out.append({**seg, "company_id": company_id})
        return out

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        ids = self._company_ids()
        pool = self.run.pool
        yield from ordered_map(self._segments, ids, pool, 2 * pool.width())
