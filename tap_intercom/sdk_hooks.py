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
- ``Tap.sync_all``'s loop and ``Tap._state_writer`` (``SideBySideSync``): the SDK syncs
  streams one after another; the tap runs them side by side (``tap_intercom/scheduler.py``)
  after the SDK's own preamble (``_reset_state_progress_markers``,
  ``_set_compatible_replication_methods``, the first STATE), and replaces the tap's state
  writer with ``StreamStateWriter``, so that a STATE written for one stream never carries
  another stream's live, half-updated state.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any

import msgspec
from singer_sdk import Stream
from singer_sdk.contrib.msgspec import MsgSpecWriter, enc_hook
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.singerlib import RecordMessage, StateMessage
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


RECORD_BUFFER_BYTES = 64 * 1024


class BufferedMsgSpecWriter(MsgSpecWriter):
    """The SDK's msgspec writer, for streams writing from threads of their own.

    Each thread encodes its messages with its own encoder (the SDK's reuses one buffer) and
    gathers its RECORD lines in its own buffer; the buffer goes to stdout, whole lines under
    one lock, when it is full, before any other message of that thread (SCHEMA, STATE) and
    when its stream ends (``flush_thread``). So a thread's messages keep their order, a
    STATE always follows the records it covers (another thread's STATE carries this
    thread's part only as of this thread's own last STATE), and records cost neither a
    lock nor a flush (a syscall) each. Only non-RECORD messages flush stdout.

    A stop signal that arrives while the main thread is writing is raised once the message
    is whole; after ``stop_writes``, any other thread that writes gets ``Interrupted``
    instead (its stream stops where no message is half written), but its buffered records
    still go out with ``flush_thread`` as its stream ends: its live state, which the last
    STATE of the run carries, may already claim them.
    """

    writing_thread: int | None = None
    pending_signal: int | None = None
    _stopped: tuple[int, int] | None = None  # (the thread still allowed to write, signal)
    _lock = threading.Lock()
    _local = threading.local()

    def _thread_parts(self) -> tuple[msgspec.json.Encoder, bytearray]:
        local = self._local
        parts = getattr(local, "parts", None)
        if parts is None or parts[2] is not self:
            # The SDK's encoder settings (singer_sdk.contrib.msgspec.encoder).
            encoder = msgspec.json.Encoder(enc_hook=enc_hook, decimal_format="number")
            parts = local.parts = (encoder, bytearray(), self)
        return parts[0], parts[1]

    @override
    def serialize_message(self, message: Message) -> bytes:  # type: ignore[override]
        encoder, _ = self._thread_parts()
        return encoder.encode(message.to_dict()) + b"\n"  # one line, made whole at once

    def is_writing(self) -> bool:
        """The calling thread is in the middle of writing a message."""
        return self.writing_thread == threading.get_ident()

    def stop_writes(self, signum: int) -> None:
        """From now on only the calling thread writes; the others get ``Interrupted``."""
        self._stopped = (threading.get_ident(), signum)

    def _refuse_if_stopped(self, me: int) -> None:
        stopped = self._stopped
        if stopped is not None and stopped[0] != me:
            raise Interrupted(stopped[1])

    @override
    def write_message(self, message: Message) -> None:
        me = threading.get_ident()
        self._refuse_if_stopped(me)
        line = self.format_message(message)
        _, buffer = self._thread_parts()
        if message.__class__ is RecordMessage:
            buffer += line
            if len(buffer) >= RECORD_BUFFER_BYTES:
                self._write(me, buffer, b"", flush=False)
            return
        self._write(me, buffer, line, flush=True)

    def flush_thread(self) -> None:
        """Write the calling thread's buffered records (its stream has ended), even after
        ``stop_writes``: they are whole lines, and its state may claim them."""
        me = threading.get_ident()
        _, buffer = self._thread_parts()
        if buffer:
            self._write(me, buffer, b"", flush=True, refuse=False)

    def _write(
        self, me: int, buffer: bytearray, line: bytes, *, flush: bool, refuse: bool = True
    ) -> None:
        out = sys.stdout.buffer
        with self._lock:
            if refuse:
                self._refuse_if_stopped(me)
            self.writing_thread = me
            try:
                out.write(buffer)
                del buffer[:]
                if line:
                    out.write(line)
                if flush:
                    sys.stdout.flush()
                    out.flush()
            finally:
                self.writing_thread = None
            signum, self.pending_signal = self.pending_signal, None
        if signum is not None:
            raise Interrupted(signum)


class StreamStateWriter:
    """STATE messages while streams run side by side (in place of the SDK's StateWriter).

    A stream's part of the state (its ``bookmarks`` entry, with its children's) is taken
    when that stream writes a STATE, on its own thread, and kept: a STATE written for one
    stream carries every other stream's part as of that stream's own last STATE, never its
    live state, which its thread may be changing and which may claim records not written
    yet. Where no stream owns the thread (before the streams start, after they have all
    ended) the whole state is taken. Like the SDK's, an unchanged state is not written again.
    """

    def __init__(self, message_writer: Any) -> None:
        self._writer = message_writer
        self._lock = threading.Lock()
        self._local = threading.local()
        self._state: dict[str, Any] | None = None  # what the last STATE said

    @contextlib.contextmanager
    def owner(self, names: Iterable[str]) -> Iterator[None]:
        """STATEs written on this thread, inside the block, are for the streams ``names``."""
        self._local.names = tuple(names)
        try:
            yield
        finally:
            del self._local.names

    def write_state(self, state: types.TapState) -> None:
        names: tuple[str, ...] | None = getattr(self._local, "names", None)
        with self._lock:
            if names is None:
                new = copy.deepcopy(dict(state))
            else:
                new = dict(self._state or {})
                books = dict(new.get("bookmarks") or {})
                live = state.get("bookmarks") or {}
                for name in names:
                    if name in live:
                        books[name] = copy.deepcopy(live[name])
                    else:
                        books.pop(name, None)
                new["bookmarks"] = books
            if new != self._state:
                self._writer.write_message(StateMessage(value=new))
                self._state = new


class SideBySideSync:
    """The SDK's ``sync_all`` with the streams run side by side (see the module docstring)."""

    logger: Any
    state: Any
    streams: Any
    message_writer: Any
    _state_writer: Any

    def use_stream_state_writer(self) -> None:
        self._state_writer = StreamStateWriter(self.message_writer)

    def selected_streams(self) -> list[Stream]:
        """The SDK's preamble (progress markers reset, replication methods checked, the
        first STATE), then the streams its loop would sync, in its order."""
        self._reset_state_progress_markers()  # type: ignore[attr-defined]
        self._set_compatible_replication_methods()  # type: ignore[attr-defined]
        if self.state:
            self._state_writer.write_state(self.state)
        out = []
        for stream in self.streams.values():
            if not stream.selected and not stream.has_selected_descendents:
                self.logger.info("Skipping deselected stream '%s'.", stream.name)
            elif not stream.parent_stream_type:  # children are synced by their parent
                out.append(stream)
        return out

    def sync_one(self, stream: Stream) -> None:
        """One stream, as the SDK's loop syncs it, its STATEs taken for it alone."""
        family = [stream.name]
        family += [c.name for c in _descendants(stream)]
        try:
            with self._state_writer.owner(family):
                stream.sync()
                stream.finalize_state_progress_markers()
        finally:
            writer = self.message_writer
            if isinstance(writer, BufferedMsgSpecWriter):
                # Its buffered records, before the run's last STATE (which may claim them).
                writer.flush_thread()

    def after_streams(self, *, failed: bool) -> None:
        """Every stream has ended: the whole state is safe to write (after a failure, it
        keeps what each stream had emitted); then the SDK's cost log lines."""
        if failed:
            self._state_writer.write_state(self.state)
            return
        for stream in self.streams.values():
            stream.log_sync_costs()


def _descendants(stream: Stream) -> list[Stream]:
    out = []
    for child in stream.child_streams or []:
        out += [child, *_descendants(child)]
    return out


class SafeTermination:
    """SIGTERM / SIGINT raise ``Interrupted`` where no message is half written; the tap's
    ``run_interruptible`` writes the last (safe) state and exits 128 + the signal."""

    message_writer: Any
    state: Any
    _state_writer: Any

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # Runs on the main thread, between two of its bytecodes.
        writer = self.message_writer
        if isinstance(writer, BufferedMsgSpecWriter) and writer.is_writing():
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
