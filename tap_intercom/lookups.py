"""Cached name look-ups for tags and companies, shared by every worker thread of a run.

A contact carries only the ids of its tags and companies (FACTS.md §2.1, §9); the original
connector exposed their names. One ``GET /tags`` serves every tag; each distinct company is
fetched once (``GET /companies/{id}``), however many contacts point at it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Executor, Future, wait
from typing import Any
from urllib.parse import quote

from intercom_api import IntercomClient, errors
from intercom_api.pagination import numbered_pages, total_pages
from intercom_api.pool import PoolStopped

log = logging.getLogger("tap_intercom")


class TagNames:
    """Tag id → name, from one ``GET /tags``; an unknown id (a tag created mid-run) is fetched."""

    def __init__(self, client: IntercomClient) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._names: dict[str, str | None] | None = None
        self._forbidden = False

    def _load(self) -> dict[str, str | None]:
        with self._lock:
            if self._names is None:
                try:
                    data = self._client.get("/tags")
                except errors.ForbiddenError as e:
                    # A token without "Read tags" still reads contacts: names stay null.
                    log.warning(
                        'tag names left empty: the access token lacks Intercom\'s "Read tags" '
                        "permission (HTTP 403 %s); contacts keep their tag ids",
                        e.code,
                    )
                    self._forbidden = True
                    data = {}
                self._names = {
                    str(t.get("id")): t.get("name") for t in data.get("data") or [] if t.get("id")
                }
            return self._names

    def name(self, tag_id: str) -> str | None:
        names = self._names if self._names is not None else self._load()
        if tag_id in names or self._forbidden:
            return names.get(tag_id)
        try:
            tag = self._client.get(f"/tags/{quote(tag_id, safe='')}")
            name = tag.get("name")
        except errors.NotFoundError:
            log.warning("tag %s is referenced by a contact but does not exist", tag_id)
            name = None
        names[tag_id] = name
        return name


COMPANY_PAGE = 60  # POST /companies/list pages (the sandbox, like Intercom, caps there)
COMPANY_LIST_CAP = 10_000  # the list endpoint stops there (FACTS.md §4)


class CompanyNames:
    """Company id -> name; each id fetched at most once, even by concurrent threads.

    ``prefetch`` fetches the unknown ids of a page side by side on the run's request pool
    (a stream waits one round trip, not one per company). ``preload`` lists every company
    up front instead, when that costs fewer calls than the sync is about to make anyway.
    """

    def __init__(self, client: IntercomClient, pool: Executor, window: int = 8) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._futures: dict[str, Future[str | None]] = {}
        self._pool = pool
        self._window = max(1, window)
        self._preload_lock = threading.Lock()
        self._preloaded = False
        self._preloader: threading.Thread | None = None

    def _list_page(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return (
            self._client.request("POST", "/companies/list", params=params, idempotent=True).data
            or {}
        )

    def preload_async(self, expected_records: int) -> None:
        """``preload`` on a thread of its own (it waits on the request pool, so it must not
        run there); callers of ``preload`` wait for it."""
        with self._lock:
            if self._preloader is not None:
                return
            self._preloader = threading.Thread(
                target=self._preload_quietly,
                args=(expected_records,),
                name="tap-intercom-company-list",
                daemon=True,
            )
        self._preloader.start()

    def _preload_quietly(self, expected_records: int) -> None:
        try:
            self.preload(expected_records)
        except PoolStopped:
            pass  # the run is stopping
        except Exception as e:  # look-ups one by one still work; say why listing did not
            log.warning("company names: listing companies failed (%s); looked up one by one", e)

    def preload(self, expected_records: int | None) -> None:
        """List all companies once if that is cheap next to reading ``expected_records``.

        One page of the list serves 60 companies; per-id look-ups serve one each. Listing
        is used when its pages are at most a quarter of the contact pages to come.
        """
        with self._preload_lock:
            if self._preloaded or not expected_records:
                return
            self._preloaded = True
            budget = expected_records // (150 * 4)
            if budget < 1:
                return
            params = {"per_page": COMPANY_PAGE}
            first = self._list_page({**params, "page": 1})
            total = first.get("total_count")
            pages = total_pages(first) or 1
            if not isinstance(total, int) or total > COMPANY_LIST_CAP or pages > budget:
                self.prime(first.get("data") or [])
                return
            for page in numbered_pages(
                self._list_page,
                "/companies/list",
                list_key="data",
                params=params,
                pool=self._pool,
                window=self._window,
                first=first,
            ):
                self.prime(page)
            log.info("company names: listed %d companies in %d pages", total, pages)

    def prime(self, companies: list[dict[str, Any]]) -> None:
        """Remember names of full company objects already at hand."""
        with self._lock:
            for c in companies:
                cid = c.get("id")
                if cid and str(cid) not in self._futures:
                    f: Future[str | None] = Future()
                    f.set_result(c.get("name"))
                    self._futures[str(cid)] = f

    def _fetch(self, company_id: str) -> str | None:
        try:
            return self._client.get(f"/companies/{quote(company_id, safe='')}").get("name")
        except errors.NotFoundError:
            log.warning("company %s is referenced by a contact but does not exist", company_id)
            return None

    def prefetch(self, company_ids: Iterable[str]) -> None:
        """Start fetching every id not yet known or under way; wait for them all."""
        waits: list[Future[str | None]] = []
        with self._lock:
            for cid in company_ids:
                fut = self._futures.get(cid)
                if fut is None:
                    fut = self._futures[cid] = self._pool.submit(self._fetch, cid)
                if not fut.done():
                    waits.append(fut)
        wait(waits)

    def name(self, company_id: str) -> str | None:
        with self._lock:
            fut = self._futures.get(company_id)
        if fut is None:
            self.prefetch([company_id])
            with self._lock:
                fut = self._futures[company_id]
        try:
            return fut.result()
        except BaseException:
            with self._lock:  # a failed look-up is retried by the next caller
                if self._futures.get(company_id) is fut:
                    del self._futures[company_id]
            raise

    @property
    def fetched(self) -> int:
        return len(self._futures)
