"""Every private singer-sdk hook the tap relies on, in one module, each with its reason.

singer-sdk has no public extension point for these; a release that changes one of them must
fail loudly, so tests/tap/test_sdk_pins.py pins the SDK behaviour each relies on:

- ``Stream._increment_stream_state`` (``WatermarkBookmark``): search streams emit records
  as pages arrive from many chains at once, so the bookmark is a *watermark* (every record
  at or before it was emitted), not the SDK's max-so-far. The SDK calls this hook once per
  record, after writing it; we count records there and save the watermark every few.
- ``Stream._generate_record_messages`` (``FastRecordMessages``): the SDK's, minus the
  per-record selection walk when every field is selected and minus type conformance
  (records already match the schema): a third of the tap's CPU per record otherwise.
- ``Tap._validate_config`` (``ExtraConfigChecks``): JSON Schema cannot say "an IANA zone"
  or "https unless loopback"; the SDK's own validation runs first, ours after, and both
  fail the same way (one clear line per problem).
- ``PluginBase._handle_termination`` (``SafeTermination``): the SDK writes the state from
  inside the signal handler (which can land in the middle of a record being written) and
  exits 0, so a scheduler takes a run stopped halfway for a success.
- ``singer_sdk.helpers._catalog.pop_deselected_record_properties``: the SDK's own field
  selection, used by ``FastRecordMessages`` when some field is deselected.
- ``Stream._sync_records`` (``RefusableSync``): a 403 (the token lacks a permission) ends
  one stream, not the run. Caught inside the SDK's ``sync`` (which would log it as an
  "unhandled error" and re-raise), so the tap's sync loop goes on to the next stream; the
  stream's unfinished progress markers are dropped, so its bookmark does not move.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.encoding.simple import Message
from typing_extensions import override

from intercom_api import errors

if TYPE_CHECKING:
    from singer_sdk.helpers import types


class WatermarkBookmark:
    """A stream whose bookmark is a watermark it saves itself (see the module docstring)."""

    replication_key: str | None

    def on_record(self, context: types.Context | None) -> None:
        """Called once per record emitted, after the SDK wrote it."""

    def _increment_stream_state(
        self, latest_record: types.Record, *, context: types.Context | None = None
    ) -> None:
        self.on_record(context)

    def save_bookmark(self, value: str, context: types.Context | None) -> None:
        """Set the bookmark to ``value`` (ISO 8601) through the SDK's state bookkeeping."""
        assert isinstance(self, Stream) and self.replication_key
        Stream._increment_stream_state(self, {self.replication_key: value}, context=context)


class FastRecordMessages:
    """The SDK's record messages without the per-record selection walk and conformance."""

    _prune: bool | None = None
    _extracted_at: dt.datetime

    def _generate_record_messages(self, record: types.Record) -> Iterator[RecordMessage]:
        assert isinstance(self, Stream)
        if self._prune is None:
            self._prune = not all(self.mask.values())
        if self._prune:
            pop_deselected_record_properties(record, self.schema, self.mask)
        now = self._extracted_at
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=now,
                )


class RefusableSync:
    """The SDK's record sync, with a 403 handed to ``on_refused`` (see the module docstring).

    ``on_refused`` returns to skip the rest of the stream, or raises to fail the run.
    """

    def on_refused(self, error: errors.ForbiddenError) -> None:
        raise error

    def _sync_records(
        self, context: types.Context | None = None, *, write_messages: bool = True
    ) -> Iterator[types.Record]:
        assert isinstance(self, Stream)
        try:
            yield from super()._sync_records(  # type: ignore[misc]
                context, write_messages=write_messages
            )
        except errors.ForbiddenError as e:
            self.on_refused(e)
            # What was read before the 403 is emitted, but the SDK's max-so-far of an
            # unsorted stream must not become its bookmark: the rest was never read.
            self.stream_state.pop("progress_markers", None)
            if write_messages:
                self._write_state_message()


class ExtraConfigChecks:
    """The SDK's config validation, then ``extra_config_problems``, failing the same way."""

    config_jsonschema: dict[str, Any]

    def extra_config_problems(self) -> list[str]:
        return []

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        found: list[str] = super()._validate_config(raise_errors=False)  # type: ignore[misc]
        if not found:
            found = self.extra_config_problems()
        if found and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=found, schema=self.config_jsonschema
            )
        return found


class Interrupted(BaseException):
    """SIGTERM / SIGINT, raised where no message is half written (a BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` on the way takes it for an error)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class BufferedMsgSpecWriter(MsgSpecWriter):
    """The SDK's msgspec writer, flushing stdout only after non-RECORD messages.

    A STATE message always follows the records it covers, so a target never sees a state
    before its records; records no longer cost a flush (a syscall) each. A stop signal that
    arrives while a message is being written is raised once the message is whole.
    """

    writing = False
    pending_signal: int | None = None

    @override
    def write_message(self, message: Message) -> None:
        out = sys.stdout.buffer
        self.writing = True
        try:
            out.write(self.format_message(message))
            if message.__class__ is not RecordMessage:
                sys.stdout.flush()
                out.flush()
        finally:
            self.writing = False
        signum, self.pending_signal = self.pending_signal, None
        if signum is not None:
            raise Interrupted(signum)


class SafeTermination:
    """SIGTERM / SIGINT raise ``Interrupted`` where no message is half written; the tap's
    ``run_interruptible`` writes the last (safe) state and exits 128 + the signal."""

    message_writer: Any
    state: Any
    _state_writer: Any

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        writer = self.message_writer
        if isinstance(writer, BufferedMsgSpecWriter) and writer.writing:
            writer.pending_signal = signum
            return
        raise Interrupted(signum)

    def run_interruptible(self, sync: Callable[[], None], on_stop: Callable[[int], None]) -> None:
        """Run ``sync``; stopped by a signal, write the state and exit 128 + the signal."""
        try:
            sync()
        except Interrupted as stop:
            on_stop(stop.signum)
            self._state_writer.write_state(self.state)  # claims only what was emitted
            raise SystemExit(128 + stop.signum) from None
