"""ListStream: streams read from Intercom's list endpoints, not its search.

They stand on ``IntercomStream`` (client, settings, bounds, record output, timestamp
conversion), beside the search streams, and differ only in how they read: a list endpoint
returns everything, so an incremental one filters on the replication key on our side.
Records leave in the order the API gives them (not sorted), so the SDK keeps the highest
value seen and saves it at the end, capped at the signpost (sync start minus
``search_lag_margin_seconds``): a record written during the read may have been missed, and
the next run starts early enough to see it. Pages are walked by ``intercom_api.pagination``
(one walker per pagination kind).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from typing_extensions import override

from intercom_api.pagination import Page
from tap_intercom.client import IntercomStream

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers import types

    from tap_intercom.context import RunContext


class ListStream(IntercomStream):
    """A stream read from a list endpoint: full table, or incremental filtered on our side."""

    # The replication key, or None for a full-table stream.
    incremental_key: ClassVar[str | None] = None
    is_sorted = False
    check_sorted = True  # with is_sorted False this makes the SDK keep the highest value
    selected_by_default = False  # a run without a catalog reads the core streams only

    def __init__(self, tap: Tap, run: RunContext) -> None:
        super().__init__(tap, run)
        self.replication_key = self.incremental_key  # type: ignore[assignment]

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
            self.extracted_now()
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
