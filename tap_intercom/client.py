"""IntercomStream: the thin base of every tap stream (anchor: tap-github client.py).

It holds what every stream shares and nothing about how a stream reads: the schema from
``schemas/``, the run context (settings, API client, clock, workspace facts: no call back
up into the tap), timestamps converted to ISO 8601, the bounds of a run (bookmark,
``start_date``, ``end_date``) and the signpost that caps a bookmark. Its sibling kinds read:
``search.SearchStream`` (search endpoints, sliced and concurrent, watermark bookmark),
``streams.listing.ListStream`` (list endpoints, the SDK's bookmark); a stream module only
declares what is different.

Why ``Stream`` and not ``RESTStream``: every request goes through ``intercom_api`` (auth,
version header, shared rate limiter, retries, pagination walkers); RESTStream would build
requests itself and page one chain at a time.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, ClassVar

from intercom_schemas import load_schema
from singer_sdk import Stream
from singer_sdk.helpers.conform import TypeConformanceLevel
from typing_extensions import override

from intercom_api import IntercomClient, errors
from tap_intercom.options import parse_ts
from tap_intercom.sdk_hooks import FastRecordMessages, RefusableSync
from tap_intercom.transform import timestamp_converter

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers import types

    from tap_intercom.context import RunContext

__all__ = ["IntercomStream", "parse_ts"]


class IntercomStream(RefusableSync, FastRecordMessages, Stream):
    """What every stream of the tap shares (see the module docstring)."""

    list_key: ClassVar[str] = "data"
    primary_keys: ClassVar[list[str]] = ["id"]  # type: ignore[misc]
    # Streams of the same run this one starts after, when they are selected: it reads
    # what they leave behind (tap_intercom/scheduler.py).
    runs_after: ClassVar[tuple[str, ...]] = ()
    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # records already match the schema

    def __init__(self, tap: Tap, run: RunContext) -> None:
        schema = load_schema(self.name)
        super().__init__(tap, schema=schema)
        self.run = run
        self._convert = timestamp_converter(schema)
        self._signpost: int | None = None
        self._extracted_at = dt.datetime.now(dt.timezone.utc)

    @property
    def client(self) -> IntercomClient:
        return self.run.client

    @property
    def max_workers(self) -> int:
        return self.run.max_workers

    @override
    def on_refused(self, error: errors.ForbiddenError) -> None:
        # 403: the token lacks a permission. Skip this stream with one line naming it, or
        # fail the run (strict_permissions): tap_intercom/permissions.py.
        self.run.permissions.refused(self.name, error)

    # -- bounds and signpost ----------------------------------------------------------------
    def _bounds(self, context: types.Context | None) -> tuple[int | None, int | None]:
        """(first second to emit or None, first second NOT to emit or None)."""
        rk = self.replication_key
        state = self.get_context_state(context)
        start: int | None = None
        if state.get("replication_key") == rk and state.get("replication_key_value"):
            # Records at or before the bookmark were emitted by an earlier run.
            start = parse_ts(state["replication_key_value"]) + 1
        opts = self.run.options
        if opts.start_date is not None:
            start = opts.start_date if start is None else max(start, opts.start_date)
        return start, opts.end_date

    def signpost_ts(self) -> int:
        """Sync start (earlier of local and server clocks) minus the search lag margin."""
        if self._signpost is None:
            self._signpost = self.run.sync_start() - self.run.options.search_lag_margin_seconds
        return self._signpost

    @override
    def get_replication_key_signpost(
        self, context: types.Context | None = None
    ) -> dt.datetime | None:
        if not self.replication_key:
            return None  # full table: no bookmark to cap, no clock to read
        return dt.datetime.fromtimestamp(self.signpost_ts(), dt.timezone.utc)

    def extracted_now(self) -> None:
        """Stamp the records that follow with the current time (``time_extracted``)."""
        self._extracted_at = dt.datetime.now(dt.timezone.utc)
