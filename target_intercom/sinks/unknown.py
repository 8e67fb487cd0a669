"""The sink of a stream this target does not write: every record is rejected, with the fix."""

from __future__ import annotations

from typing_extensions import override

from target_intercom.outcomes import RecordRejected
from target_intercom.settings import STREAMS
from target_intercom.sinks.base import IntercomSink, Pending


def unknown_stream_reason(stream: str) -> str:
    return (
        f"unknown stream {stream!r}: this target writes {', '.join(STREAMS)}; rename the "
        f'stream with stream_maps, e.g. {{"{stream}": {{"__alias__": "users"}}}}'
    )


class UnknownStreamSink(IntercomSink):
    """Rejects at once (nothing to batch): the rejects file keeps the records for a replay."""

    @override
    def process_record(self, record: dict, context: dict) -> None:
        pos = self.run.position
        item = Pending(record, pos.record, pos.stream, pos.line, source=pos.source)
        self.reject(item, RecordRejected(unknown_stream_reason(pos.stream)))

    @override
    def write_batch(self, batch: list[Pending]) -> None:  # never batched
        for item in batch:
            self.reject(item, RecordRejected(unknown_stream_reason(item.stream)))
