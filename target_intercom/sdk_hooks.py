"""The one module that touches singer-sdk's private hooks (DESIGN.md: "singer-sdk through
its public hooks; where a private hook is unavoidable, one module owns it").

singer-sdk has no public way for a target to handle each message type, to validate a record
without converting it, or to keep ``_sdc_deleted_at``; those are underscore methods. Here they
are overridden once and forwarded to public-named methods the target and sinks implement, so
the rest of the code never names an SDK private. ``tests/target/test_sdk_hooks.py`` pins the
SDK behaviour relied on; an SDK upgrade that changes it fails there, loudly.

What is relied on (singer-sdk 0.54-0.55):
- ``Target.process_lines`` dispatches SCHEMA, RECORD, STATE, ACTIVATE_VERSION and BATCH lines
  to ``_process_<type>_message(message_dict)``.
- ``Target._process_state_message`` only remembers the state; STATE is written (through
  ``_write_state_message``) by ``drain_all``, after every sink is drained. So a STATE never
  covers a record whose batch has not returned from ``process_batch``.
- ``Target._sinks_active`` maps the stream name (after stream maps) to its active sink.
- ``Sink._validate_and_parse(record)`` validates (and converts) each record before
  ``process_record``; ``Sink._remove_sdc_metadata_from_record`` /
  ``_remove_sdc_metadata_from_schema`` drop ``_sdc_*`` columns when ``add_record_metadata``
  is off.
"""

from __future__ import annotations

import typing as t
from collections.abc import Iterable

from singer_sdk import Target
from singer_sdk.sinks import BatchSink
from typing_extensions import override

DELETED_AT = "_sdc_deleted_at"  # an instruction to this target (archive / delete), kept


class TargetHooks(Target):
    """Forwards the SDK's message handlers to ``on_*`` methods; ``sdk_*`` run the SDK's own."""

    # -- the SDK's dispatch, forwarded -----------------------------------------------------
    @override
    def _process_record_message(self, message_dict: dict) -> None:
        self.on_record(message_dict)

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        self.on_schema(message_dict)

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        self.on_state(message_dict)

    @override
    def _process_activate_version_message(self, message_dict: dict) -> None:
        self.on_activate_version(message_dict)

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        self.on_batch(message_dict)

    @override
    def _write_state_message(self, state: dict) -> None:
        self.on_state_ready(state)

    # -- what the target implements ----------------------------------------------------------
    def on_record(self, message_dict: dict) -> None:
        self.sdk_record(message_dict)

    def on_schema(self, message_dict: dict) -> None:
        self.sdk_schema(message_dict)

    def on_state(self, message_dict: dict) -> None:
        self.sdk_state(message_dict)

    def on_activate_version(self, message_dict: dict) -> None:
        super()._process_activate_version_message(message_dict)

    def on_batch(self, message_dict: dict) -> None:
        super()._process_batch_message(message_dict)

    def on_state_ready(self, state: dict) -> None:
        """A STATE covering every record drained so far; ``emit_state`` writes it."""
        self.emit_state(state)

    # -- the SDK's own handling ----------------------------------------------------------------
    def sdk_record(self, message_dict: dict) -> None:
        super()._process_record_message(message_dict)

    def sdk_schema(self, message_dict: dict) -> None:
        super()._process_schema_message(message_dict)

    def sdk_state(self, message_dict: dict) -> None:
        super()._process_state_message(message_dict)

    def emit_state(self, state: dict) -> None:
        super()._write_state_message(state)

    def drain_streams(self, streams: Iterable[str]) -> None:
        """Write the pending records of the named streams' active sinks now."""
        for name in streams:
            sink = self._sinks_active.get(name)
            if sink is not None and sink.current_size:
                self.drain_one(sink)


class SinkHooks(BatchSink):
    """The sink's SDK privates: validation without conversion, ``_sdc_deleted_at`` kept."""

    @override
    def _validate_and_parse(self, record: dict) -> dict:
        # Validate only. The SDK would also turn date-time strings into datetime objects;
        # the mapping reads ISO 8601 and unix seconds itself and reports bad values per field,
        # and the rejects file keeps the record JSON as received.
        self.check_record(record)
        return record

    def check_record(self, record: dict) -> None:
        """Raise ``InvalidRecord`` for a record that cannot be written (subclasses)."""

    @override
    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        # _sdc_deleted_at is an instruction here (archive / delete), not metadata to drop.
        deleted = record.get(DELETED_AT)
        super()._remove_sdc_metadata_from_record(record)
        if deleted is not None:
            record[DELETED_AT] = deleted

    @override
    def _remove_sdc_metadata_from_schema(self) -> None:
        kept = self.schema.get("properties", {}).get(DELETED_AT)
        super()._remove_sdc_metadata_from_schema()
        if kept is not None:
            self.schema["properties"][DELETED_AT] = kept

    @property
    def validator(self) -> t.Any:
        """The SDK's validator of this sink (None when validate_records is off)."""
        return self._validator
