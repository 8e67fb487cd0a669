"""events: data events (POST /events: 202 and an empty body).

Intercom ignores an event it already has (same contact, event name and created_at, FACTS.md
§4), so sending is idempotent and a re-delivered event changes nothing: the outcome of every
accepted event is ``created`` ("sent"). Events name their contact, which must exist: the users
and leads of the same run are written first. Events cannot be deleted.
"""

from __future__ import annotations

from typing_extensions import override

from target_intercom.mapping import map_event
from target_intercom.outcomes import Outcome, RecordRejected
from target_intercom.sinks.base import IntercomSink, Pending


class EventsSink(IntercomSink):
    """Writes the ``events`` stream."""

    depends_on = ("users", "leads")

    @override
    def write_batch(self, batch: list[Pending]) -> None:
        extra = self.options.extra_columns
        items = self.parse_all(batch, lambda r: map_event(r, extra=extra))
        self.workspace.run_all(lambda i: self.guarded(i, self.write_one, "the event"), items)

    @override
    def describe(self, item: Pending) -> str:
        return f"event {item.parsed.body['event_name']}"

    def write_one(self, item: Pending) -> Outcome:
        if item.parsed.deleted:
            if self.options.delete_mode != "ignore":
                raise RecordRejected(
                    "_sdc_deleted_at is set but Intercom events cannot be deleted: drop the "
                    "record or set delete_mode to ignore"
                )
            return Outcome.UNCHANGED
        if not self.dry_run:
            self.workspace.client.post("/events", item.parsed.body, idempotent=True)
        return Outcome.CREATED
