"""ListStream: streams read from Intercom's list endpoints, not its search.

They share ``IntercomStream`` (client, settings, bounds, record output, timestamp conversion)
and differ only in how they read: a list endpoint returns everything, so an incremental one
filters on the replication key on our side. Records leave in the order the API gives them
(not sorted), so the SDK keeps the highest value seen and saves it at the end, capped at the
signpost (sync start minus ``search_lag_margin_seconds``): a record written during the read
may have been missed, and the next run starts early enough to see it.

Also here: the two pagination styles of these endpoints (page numbers, and the cursors
``IntercomClient.iter_pages`` walks) and an ordered, bounded concurrent map.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import parse_qs, urlsplit

from singer_sdk import Stream
from typing_extensions import override

from intercom_api import errors
from tap_intercom.client import IntercomStream

if TYPE_CHECKING:
    from singer_sdk.helpers import types

    from tap_intercom.tap import TapIntercom

T = TypeVar("T")
R = TypeVar("R")
Page = list[dict[str, Any]]


class ListStream(IntercomStream):
    """A stream read from a list endpoint: full table, or incremental filtered on our side."""

    # The replication key, or None for a full-table stream. Not the SDK's
    # ``replication_key``: IntercomStream sets that from replicate_by_created_at.
    incremental_key: ClassVar[str | None] = None
    is_sorted = False
    check_sorted = True  # with is_sorted False this makes the SDK keep the highest value
    selected_by_default = False  # a run without a catalog reads the core streams only

    def __init__(self, tap: TapIntercom) -> None:
        super().__init__(tap)
        self.replication_key = self.incremental_key  # type: ignore[assignment]

    @override
    def get_replication_key_signpost(
        self, context: types.Context | None = None
    ) -> dt.datetime | None:
        if not self.replication_key:
            return None  # full table: no bookmark to cap, no clock to read
        return super().get_replication_key_signpost(context)

    @override
    def _increment_stream_state(
        self, latest_record: types.Record, *, context: types.Context | None = None
    ) -> None:
        # The SDK's own bookkeeping (max seen, capped at the signpost at the end), not the
        # search streams' watermark.
        Stream._increment_stream_state(self, latest_record, context=context)

    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        """Pages of raw records; ``start``/``end`` (unix s) let a stream read less."""
        raise NotImplementedError

    def prepare(self, record: dict[str, Any]) -> None:
        """Adjust a raw record in place before its timestamps are converted."""

    @override
    def get_records(self, context: types.Context | None) -> Iterable[dict[str, Any]]:
        rk = self.replication_key
        start, end = self._bounds(context) if rk else (None, None)
        convert = self._convert
        for page in self.fetch(start, end):
            self._extracted_at = dt.datetime.now(dt.timezone.utc)
            for rec in page:
                if rk:
                    ts = rec.get(rk)
                    if isinstance(ts, (int, float)) and (
                        (start is not None and ts < start) or (end is not None and ts >= end)
                    ):
                        continue  # emitted by an earlier run, or past end_date
                self.prepare(rec)
                convert(rec)
                yield rec


# -- concurrency --------------------------------------------------------------------------
def ordered_map(
    fn: Callable[[T], R], items: Iterable[T], pool: ThreadPoolExecutor, window: int
) -> Iterator[R]:
    """``fn`` over ``items`` on ``pool``, results in input order, at most ``window`` in flight.

    Results are yielded as soon as the oldest one is ready, so memory stays bounded and the
    consumer starts before the last item is fetched.
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


# -- pagination of list endpoints ---------------------------------------------------------------
def next_page_params(pages: Any, current: int) -> dict[str, Any] | None:
    """Query parameters of the next page from a ``pages`` object, or None on the last page.

    ``pages.next`` comes in several shapes across these endpoints: a URL (GET
    /conversations/deleted), an object with ``page`` or with ``starting_after`` (the spec's
    ``cursor_pages``), or null. A URL is never followed as such: only its ``page`` /
    ``starting_after`` are read, so requests stay on the configured host.
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


def iter_list_pages(
    get: Callable[[str, Mapping[str, Any]], dict[str, Any]],
    path: str,
    *,
    list_key: str,
    params: Mapping[str, Any],
    stop: Callable[[Page], bool] | None = None,
) -> Iterator[Page]:
    """Walk a list endpoint page by page, by page number or cursor, whichever it answers.

    ``stop(page)`` True ends the walk after that page (a list sorted newest first needs no
    older pages). A next page seen before (same number or cursor) is an API fault: a clear
    error, not an endless loop.
    """
    number = 1
    query: dict[str, Any] = {**params, "page": number}
    seen: set[tuple[str, str]] = set()
    while True:
        data = get(path, query)
        records = data.get(list_key) or []
        yield records
        nxt = next_page_params(data.get("pages"), number)
        if nxt is None or not records or (stop is not None and stop(records)):
            return
        key = next(iter(nxt.items()))
        marker = (key[0], str(key[1]))
        if marker in seen or (key[0] == "page" and int(key[1]) <= number):
            raise errors.IntercomError(
                None,
                "page_loop",
                f"{path} after page {number} points back to {key[0]}={key[1]}",
                None,
                method="GET",
                path=path,
            )
        seen.add(marker)
        if key[0] == "page":
            number = int(key[1])
            query = {**params, "page": number}
        else:
            number += 1
            query = {**params, "starting_after": key[1]}
