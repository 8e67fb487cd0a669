"""Every way Intercom pages a list, walked in one place, with one loop guard.

Intercom has three pagination kinds (FACTS.md §2.5, §2.6, §3, §4):
- **cursor**: ``pages.next.starting_after``, sent back in the query (GET lists) or in the
  body (search, where a cursor in the query silently returns page 1 again): ``walk_cursor``;
- **page number / link**: ``pages.next`` as a page number, a ``starting_after`` object or a
  URL, with ``total_pages`` (companies list, deleted conversations, articles, activity logs):
  ``next_page_params``, ``walk_numbered`` and, when the page count is known up front,
  ``numbered_pages`` (pages side by side on the run's ``RequestPool``);
- **scroll**: ``GET /companies/scroll`` with ``scroll_param`` (one open scroll per app,
  restart on failure): ``Scroll``.

A next page the walk has already been given (the same cursor, a page number that does not
move forward, a scroll page of nothing new) is an API fault: ``PageLoopError``, the same
error everywhere, never an endless loop and never a silent stop.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from intercom_api import errors

if TYPE_CHECKING:
    from intercom_api.client import IntercomClient

log = logging.getLogger("intercom_api")

Page = list[dict[str, Any]]
T = TypeVar("T")
R = TypeVar("R")


class PageLoopError(errors.IntercomError):
    """The API pointed a walk back at a page it had already given."""

    def __init__(self, method: str, path: str, detail: str) -> None:
        super().__init__(None, "page_loop", detail, None, method=method, path=path)


class LoopGuard:
    """Remembers the markers of pages walked; a marker seen twice is a ``PageLoopError``."""

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path
        self._seen: set[str] = set()

    def fail(self, detail: str) -> PageLoopError:
        return PageLoopError(self.method, self.path, detail)

    def check(self, marker: str, what: str = "cursor") -> None:
        if marker in self._seen:
            raise self.fail(f"the API returned {what} {marker!r} twice: it loops")
        self._seen.add(marker)


# -- cursors ------------------------------------------------------------------------------
def next_cursor(data: Mapping[str, Any]) -> str | None:
    """The ``pages.next.starting_after`` cursor of a list or search page, or None."""
    pages = data.get("pages")
    if not isinstance(pages, dict):
        return None
    nxt = pages.get("next")
    if isinstance(nxt, dict):
        cursor = nxt.get("starting_after")
        return str(cursor) if cursor else None
    return None


def walk_cursor(
    fetch: Callable[[str | None], dict[str, Any]],
    *,
    list_key: str,
    method: str,
    path: str,
    start: str | None = None,
) -> Iterator[Page]:
    """Yield each page's items while the API hands out a new cursor (query or body)."""
    guard = LoopGuard(method, path)
    cursor = start
    while True:
        data = fetch(cursor)
        yield data.get(list_key) or []
        cursor = next_cursor(data)
        if cursor is None:
            return
        guard.check(cursor)


# -- page numbers and links -----------------------------------------------------------------
def next_page_params(pages: Any, current: int) -> dict[str, Any] | None:
    """Query parameters of the next page from a ``pages`` object, or None on the last page.

    ``pages.next`` comes in several shapes: a URL (deleted conversations, articles, activity
    logs), an object with ``page`` or with ``starting_after`` (the spec's ``cursor_pages``),
    or null. A URL is never followed as such: only its ``page`` / ``starting_after`` are
    read, so requests stay on the configured host.
    """
    if not isinstance(pages, Mapping):
        return None
    nxt = pages.get("next")
    fields: Mapping[str, Any] = {}
    if isinstance(nxt, str) and nxt:
        query = parse_qs(urlsplit(nxt).query)
        fields = {k: v[0] for k, v in query.items() if k in ("page", "starting_after") and v}
    elif isinstance(nxt, Mapping):
        fields = nxt
    elif nxt is None:
        total = pages.get("total_pages")
        if isinstance(total, int) and current < total:
            return {"page": current + 1}  # no link, but more pages announced
        return None
    if fields.get("starting_after"):
        return {"starting_after": str(fields["starting_after"])}
    try:
        return {"page": int(fields["page"])} if fields.get("page") is not None else None
    except (TypeError, ValueError):
        return None


def walk_numbered(
    get: Callable[[str, Mapping[str, Any]], dict[str, Any]],
    path: str,
    *,
    list_key: str,
    params: Mapping[str, Any],
    stop: Callable[[Page], bool] | None = None,
    first: dict[str, Any] | None = None,
) -> Iterator[Page]:
    """Walk a list endpoint page by page, by page number or cursor, whichever it answers.

    ``stop(page)`` True ends the walk after that page (a list sorted newest first needs no
    older pages); ``first`` is page 1 when the caller already has it. A next page that does
    not move forward is a ``PageLoopError``.
    """
    guard = LoopGuard("GET", path)
    number = 1
    query: dict[str, Any] = {**params, "page": number}
    data = first
    while True:
        if data is None:
            data = get(path, query)
        records = data.get(list_key) or []
        yield records
        nxt = next_page_params(data.get("pages"), number)
        if nxt is None or not records or (stop is not None and stop(records)):
            return
        key, value = next(iter(nxt.items()))
        if key == "page" and int(value) <= number:
            raise guard.fail(f"after page {number} the API points back to page {value}")
        guard.check(f"{key}={value}", "next page")
        if key == "page":
            number = int(value)
            query = {**params, "page": number}
        else:
            number += 1
            query = {**params, "starting_after": value}
        data = None


def total_pages(data: Mapping[str, Any]) -> int | None:
    """``pages.total_pages`` of a numbered page, if the API gave it."""
    pages = data.get("pages")
    total = pages.get("total_pages") if isinstance(pages, Mapping) else None
    return total if isinstance(total, int) else None


def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], pool: Executor, window: int
) -> Iterator[R]:
    """``fn`` over ``items`` on ``pool``, results in input order, at most ``window`` in flight.

    Results are yielded as soon as the oldest one is ready, so memory stays bounded and the
    consumer starts before the last item is fetched. Waits on the caller's thread: ``fn``
    must not wait on ``pool`` itself (``intercom_api.pool``: tasks are leaves).
    """
    pending: deque[Future[R]] = deque()
    it = iter(items)
    for item in itertools.islice(it, max(1, window)):
        pending.append(pool.submit(fn, item))
    try:
        while pending:
            result = pending.popleft().result()
            for item in itertools.islice(it, 1):
                pending.append(pool.submit(fn, item))
            yield result
    finally:
        for fut in pending:
            fut.cancel()


def numbered_pages(
    get: Callable[[Mapping[str, Any]], dict[str, Any]],
    path: str,
    *,
    list_key: str,
    params: Mapping[str, Any],
    pool: Executor,
    window: int,
    first: dict[str, Any] | None = None,
) -> Iterator[Page]:
    """Every page of a page-numbered list, in order: page 1, then, when it announces
    ``total_pages``, pages 2..N on ``pool``, ``window`` at a time; else the links one by one.

    ``get(query)`` answers one page for the query parameters given; ``first`` is page 1 when
    the caller already has it."""
    if first is None:
        first = get({**params, "page": 1})
    total = total_pages(first)
    if total is None:
        yield from walk_numbered(
            lambda _path, query: get(query), path, list_key=list_key, params=params, first=first
        )
        return
    yield first.get(list_key) or []
    if total <= 1:
        return
    n = max(1, min(window, total - 1))
    for data in ordered_map(lambda k: get({**params, "page": k}), range(2, total + 1), pool, n):
        yield data.get(list_key) or []


# -- scroll -----------------------------------------------------------------------------------
SCROLL_WAIT_SECONDS = 300.0  # waiting for another scroll to end or expire (1 min unused)
SCROLL_POLL_SECONDS = 10.0
SCROLL_RESTARTS = 3


class ScrollError(errors.IntercomError):
    """The scroll cannot be completed (keeps failing, or stays taken)."""

    def __init__(self, path: str, code: str, message: str) -> None:
        super().__init__(None, code, message, None, method="GET", path=path)


class Scroll:
    """Every item of a scroll endpoint once (``GET /companies/scroll``, FACTS.md §4),
    restarting the scroll when it breaks.

    - One scroll per app: opening one while another is open answers 400 ``scroll_exists``;
      an abandoned scroll expires after a minute unused, so that is waited out.
    - A 500 ("internal network error"), a timeout or a dropped connection means the scroll
      is dead: every scroll request is sent as *not idempotent* (the client retries only
      what provably never reached the server) and the scroll restarts, skipping items
      already given.
    - The end is a page with no items (or a 404 for an expired param). A page that brings
      nothing the current scroll had not given is a loop: ``PageLoopError``.
    """

    def __init__(
        self,
        client: IntercomClient,
        path: str,
        *,
        list_key: str = "data",
        sleep: Callable[[float], None] = time.sleep,
        wait_seconds: float = SCROLL_WAIT_SECONDS,
        poll_seconds: float = SCROLL_POLL_SECONDS,
        restarts: int = SCROLL_RESTARTS,
    ) -> None:
        self.client = client
        self.path = path
        self.list_key = list_key
        self.sleep = sleep
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.restarts = restarts
        self.ids: list[str] = []  # every item id given, in order
        self.complete = False
        self._seen: set[str] = set()  # ids given, across restarts
        self._walked: set[str] = set()  # ids of the current scroll: the loop check
        self._param: str | None = None  # the live scroll's param for its next page
        self._number = 0  # pages of the current scroll

    def _get(self, param: str | None) -> dict[str, Any]:
        params = {"scroll_param": param} if param else None
        return self.client.request("GET", self.path, params=params, idempotent=False).data or {}

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
                        self.path,
                        "scroll_exists",
                        f"another scroll stayed open on this Intercom app for {waited:.0f} s "
                        f"(another tap-intercom run, or another integration using this app's "
                        f"token?); retry when it has finished",
                    ) from None
                log.info(
                    "%s: another scroll is open on this app; waiting %.0f s for it to end "
                    "or expire (waited %.0f s)",
                    self.path,
                    self.poll_seconds,
                    waited,
                )
                self.sleep(self.poll_seconds)
                waited += self.poll_seconds

    def pages(self) -> Iterator[Page]:
        """Pages of items not given before; restarts the scroll when it breaks.

        Resumable: a consumer that stops early leaves the live scroll here, and the next
        call continues it rather than opening a second scroll the app would refuse.
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
                    self.path,
                    "scroll_failed",
                    f"the scroll broke {failures} times (last: {reason}); giving up",
                )
            log.warning(
                "%s: the scroll broke (%s); restarting it (%d of %d), skipping the %d items "
                "already read",
                self.path,
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
            records = data.get(self.list_key) or []
            if not records:
                return  # the end of the scroll (FACTS.md §4)
            fresh = []
            new_ids = 0
            for rec in records:
                rid = str(rec.get("id"))
                if rid not in self._walked:
                    self._walked.add(rid)
                    new_ids += 1
                if rid in self._seen:
                    continue  # given before a restart
                self._seen.add(rid)
                self.ids.append(rid)
                fresh.append(rec)
            if new_ids == 0 and self._number > 1:
                raise PageLoopError(
                    "GET",
                    self.path,
                    f"the scroll returned page {self._number} with only items it had "
                    f"already returned: it loops instead of ending",
                )
            param = data.get("scroll_param")
            if not param:
                raise ScrollError(
                    self.path,
                    "scroll_param_missing",
                    f"the scroll returned page {self._number} without a scroll_param",
                )
            # The param may legitimately stay the same from page to page: the loop check
            # is on the items themselves.
            self._param = str(param)
            yield fresh
            data = self._get(self._param)
            self._number += 1
