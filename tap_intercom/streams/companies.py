"""Streams `companies` (GET /companies/scroll) and `company_segments` (one call per company).

The scroll is the only listing of every company (POST /companies/list stops at 10,000,
FACTS.md §4), and it is fragile (FACTS.md §4, [S16:6834]):
- one scroll per app: starting one while another is open answers 400 ``scroll_exists``;
  an abandoned scroll expires after a minute unused, so that is waited out;
- a 500 ("internal network error") means the scroll is dead and must start over; so does
  a timeout or a dropped connection, after which the server may already have moved on.
  Hence every scroll request is sent as *not idempotent*: the client retries only what
  provably never reached the server (429, refused connections) and reports the rest,
  and the scroll restarts, skipping companies already emitted;
- the end is a page with no companies (or a 404 for an expired param).
A page that brings no company not already seen is a loop: a clear error, never a hang.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar
from urllib.parse import quote

from typing_extensions import override

from intercom_api import IntercomClient, errors
from tap_intercom.streams.listing import ListStream, Page, ordered_map

log = logging.getLogger("tap_intercom")

SCROLL_PATH = "/companies/scroll"
SCROLL_WAIT_SECONDS = 300.0  # waiting for another scroll to end or expire (1 min unused)
SCROLL_POLL_SECONDS = 10.0
SCROLL_RESTARTS = 3
# How the scroll waits; a module attribute so tests can move a sandbox clock instead.
SLEEP: Callable[[float], None] = time.sleep


class ScrollError(errors.IntercomError):
    """The company scroll cannot be completed (loops, keeps failing, or stays taken)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(None, code, message, None, method="GET", path=SCROLL_PATH)


class CompanyScroll:
    """Every company once, through GET /companies/scroll, restarting it when it breaks."""

    def __init__(
        self,
        client: IntercomClient,
        *,
        sleep: Callable[[float], None] | None = None,
        wait_seconds: float | None = None,
        poll_seconds: float | None = None,
        restarts: int | None = None,
    ) -> None:
        # Defaults read when called, so tests can change the module's constants.
        self.client = client
        self.sleep = sleep or SLEEP
        self.wait_seconds = SCROLL_WAIT_SECONDS if wait_seconds is None else wait_seconds
        self.poll_seconds = SCROLL_POLL_SECONDS if poll_seconds is None else poll_seconds
        self.restarts = SCROLL_RESTARTS if restarts is None else restarts
        self.ids: list[str] = []  # every company id emitted, in order
        self.complete = False
        self._seen: set[str] = set()  # ids emitted, across restarts
        self._walked: set[str] = set()  # ids of the current scroll: the loop check
        self._param: str | None = None  # the live scroll's param for its next page
        self._number = 0  # pages of the current scroll

    def _get(self, param: str | None) -> dict[str, Any]:
        params = {"scroll_param": param} if param else None
        return self.client.request("GET", SCROLL_PATH, params=params, idempotent=False).data or {}

    def _open(self) -> dict[str, Any]:
        """The first page of a new scroll, waiting while another scroll holds the app."""
        waited = 0.0
        while True:
            try:
                return self._get(None)
            except errors.BadRequestError as e:
                if e.code != "scroll_exists":
                    raise
                if waited >= self.wait_seconds:
                    raise ScrollError(
                        "scroll_exists",
                        f"another company scroll stayed open on this Intercom app for "
                        f"{waited:.0f} s (another tap-intercom run, or another integration "
                        f"using this app's token?); retry when it has finished",
                    ) from None
                log.info(
                    "companies: another scroll is open on this app; waiting %.0f s for it "
                    "to end or expire (waited %.0f s)",
                    self.poll_seconds,
                    waited,
                )
                self.sleep(self.poll_seconds)
                waited += self.poll_seconds

    def pages(self) -> Iterator[Page]:
        """Pages of companies not emitted before; restarts the scroll when it breaks.

        Resumable: a consumer that stops early (the SDK aborting a stream at a record
        limit) leaves the live scroll here, and the next call to ``pages`` continues it
        rather than opening a second scroll the app would refuse until the first expires.
        """
        failures = 0
        while not self.complete:
            try:
                yield from self._walk()
                self.complete = True
                return
            except (errors.AmbiguousWriteError, errors.ServerError, errors.TransportError) as e:
                reason = f"{e.status or e.code}: {e.message}"
            except errors.NotFoundError as e:
                reason = f"scroll expired ({e.message})"
            self._param = None
            failures += 1
            if failures > self.restarts:
                raise ScrollError(
                    "scroll_failed",
                    f"the company scroll broke {failures} times (last: {reason}); giving up",
                )
            log.warning(
                "companies: the scroll broke (%s); restarting it (%d of %d), skipping the "
                "%d companies already read",
                reason,
                failures,
                self.restarts,
                len(self._seen),
            )

    def _walk(self) -> Iterator[Page]:
        """The scroll from where it is (a new one if none is live) to its end."""
        if self._param is None:
            data = self._open()
            self._number = 1
            self._walked = set()
        else:
            data = self._get(self._param)
            self._number += 1
        while True:
            records = data.get("data") or []
            if not records:
                return  # the end of the scroll (FACTS.md §4)
            fresh = []
            new_ids = 0
            for rec in records:
                cid = str(rec.get("id"))
                if cid not in self._walked:
                    self._walked.add(cid)
                    new_ids += 1
                if cid in self._seen:
                    continue  # emitted before a restart
                self._seen.add(cid)
                self.ids.append(cid)
                fresh.append(rec)
            if new_ids == 0 and self._number > 1:
                raise ScrollError(
                    "scroll_loop",
                    f"the company scroll returned page {self._number} with only companies "
                    f"it had already returned: it loops instead of ending",
                )
            param = data.get("scroll_param")
            if not param:
                raise ScrollError(
                    "scroll_param_missing",
                    f"the company scroll returned page {self._number} without a scroll_param",
                )
            # No check that the param changes: it may legitimately stay the same from page
            # to page (the loop check above is on the companies themselves).
            self._param = str(param)
            yield fresh
            data = self._get(self._param)
            self._number += 1


class CompaniesStream(ListStream):
    """Every company via the scroll; incremental on ``updated_at``, filtered on our side.

    Only companies with at least one user are listed (FACTS.md §4). The scroll reads them
    all anyway, so the ids it saw serve ``company_segments`` in the same run.
    """

    name = "companies"
    list_key = "data"
    incremental_key = "updated_at"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scroll: CompanyScroll | None = None

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        self.scroll = CompanyScroll(self.client)
        yield from self.scroll.pages()

    def shared_scroll(self) -> CompanyScroll | None:
        """This run's scroll (complete, or left live by an early stop), if it ran."""
        return self.scroll


class CompanySegmentsStream(ListStream):
    """GET /companies/{id}/segments for every company [S16:6508], full table.

    Segment membership does not move a company's ``updated_at``, so every company is asked
    each run, concurrently (``max_workers``). The ids come from this run's ``companies``
    scroll when that stream ran; otherwise from a scroll of its own.
    """

    name = "company_segments"
    list_key = "data"
    primary_keys: ClassVar[list[str]] = ["company_id", "id"]  # type: ignore[misc]

    def _company_ids(self) -> list[str]:
        companies = self._tap.streams.get("companies")
        scroll = companies.shared_scroll() if isinstance(companies, CompaniesStream) else None
        if scroll is None:
            scroll = CompanyScroll(self.client)
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
        workers = max(1, self.max_workers)
        with ThreadPoolExecutor(workers, thread_name_prefix="tap-intercom-segments") as pool:
            yield from ordered_map(self._segments, ids, pool, 4 * workers)
