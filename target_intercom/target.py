"""target-intercom: writes users, leads, companies and events into Intercom.

Streams are matched by name: ``users``, ``leads``, ``companies``, ``events``. Any other
stream name is rejected (records go to the rejects file, with the fix); to write a stream
under another name, alias it with singer-sdk stream maps, e.g. in meltano.yml::

    config:
      stream_maps:
        public-crm_customers: {__alias__: users}
        public-crm_prospects: {__alias__: leads, __else__: null}

Bad input never stops the target: a line that is not JSON, an unknown message type, a
RECORD before its SCHEMA, an invalid SCHEMA, a record violating its schema or failing the
mapping, or refused by Intercom with a 4xx, is rejected into ``rejects_file`` with the reason
and the run goes on (``max_rejects`` turns too many rejects into a failure). Only failures of
the run itself stop it (authentication, Intercom unavailable after retries), and then no
STATE covers the unfinished batch. Records of Singer BATCH messages (singer-sdk batch files)
are read like RECORD lines. A dry run emits no STATE at all. See ``target_intercom.reader``
for how unreadable lines are caught, ``sinks.base`` for the batch/STATE contract, and
``context`` for what the target hands down to its sinks.
"""

from __future__ import annotations

from typing import IO, Any

from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidJSONSchema,
    InvalidRecord,
    MapExpressionError,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.singerlib.exceptions import InvalidInputLine
from singer_sdk.singerlib.json import serialize_json
from typing_extensions import override

from intercom_api import ClientSettings, ConfigError
from intercom_api import errors as api_errors
from target_intercom import batch_files
from target_intercom.context import RunContext
from target_intercom.outcomes import Tally
from target_intercom.reader import RejectingSingerReader
from target_intercom.runfiles import RunFile
from target_intercom.sdk_hooks import TargetHooks
from target_intercom.settings import STREAMS, TargetOptions, config_schema
from target_intercom.sinks import SINKS, IntercomSink, UnknownStreamSink
from target_intercom.sinks.events import NO_DEDUPE, NO_DEDUPE_TEXT
from target_intercom.sinks.unknown import unknown_stream_reason

# Problems with one message: it is rejected and the run goes on.
MESSAGE_ERRORS = (
    RecordsWithoutSchemaException,
    InvalidRecord,
    MissingKeyPropertiesError,
    InvalidInputLine,
    InvalidJSONSchema,
    MapExpressionError,
)
SUMMARY_NOTES = {NO_DEDUPE: NO_DEDUPE_TEXT}


class TargetIntercom(TargetHooks):
    """Writes users, leads, companies and events into Intercom (reverse ETL).

    Streams: users (upsert by external_id or e-mail), leads (matched by e-mail), companies
    (upsert by company_id), events (data events); write_mode chooses upsert, update_only or
    create_only. Other stream names are rejected: rename them with stream_maps, e.g.
    {"crm_customers": {"__alias__": "users"}}. Rejected records go to rejects_file with the
    reason; a summary of outcomes is logged at the end.
    """

    name = "target-intercom"
    package_name = "intercom-singer"  # the distribution shipping the three programs
    config_jsonschema = config_schema()
    message_reader_class = RejectingSingerReader
    default_sink_class = UnknownStreamSink

    def __init__(
        self,
        *,
        config: Any = None,
        parse_env_config: bool = False,
        validate_config: bool = True,
        setup_mapper: bool = True,
        message_reader: Any = None,
    ) -> None:
        super().__init__(
            config=config,
            parse_env_config=parse_env_config,
            validate_config=validate_config,
            setup_mapper=setup_mapper,
            message_reader=message_reader,
        )
        try:
            self.options = TargetOptions.from_config(self.config)
            self._client_settings = (
                ClientSettings.from_config(self.config) if validate_config else None
            )
        except ConfigError as e:
            raise ConfigValidationError(e.message, errors=[e.message]) from None
        # Sinks drain one after another (each writes on max_workers threads), so that
        # companies land before the users attaching them and users before their events.
        self.max_parallelism = 1
        self.run_context = RunContext(
            self.options, self.logger, self._settings, drain=self.drain_streams
        )
        self._warned: set[str] = set()
        self._bad_schemas: dict[str, str] = {}
        if isinstance(self.message_reader, RejectingSingerReader):
            self.message_reader.on_bad_line = self._reject_line

    def _settings(self) -> ClientSettings:
        return self._client_settings or ClientSettings.from_config(self.config)

    # -- what tests, benchmarks and the summary read ------------------------------------------
    @property
    def run_id(self) -> str:
        return self.run_context.run_id

    @property
    def tally(self) -> Tally:
        return self.run_context.tally

    @property
    def rejects(self) -> RunFile:
        return self.run_context.rejects

    def summary(self) -> dict[str, Any]:
        """Outcomes per stream, for the end-of-run log and for tests."""
        return self.run_context.summary()

    @property
    def line_number(self) -> int | None:
        reader = self.message_reader
        return reader.line_number if isinstance(reader, RejectingSingerReader) else None

    @override
    def get_sink_class(self, stream_name: str) -> type[IntercomSink]:
        return SINKS.get(stream_name, UnknownStreamSink)

    @override
    def listen(self, file_input: IO[str] | None = None) -> None:
        try:
            super().listen(file_input)
        except (api_errors.AuthenticationError, api_errors.ForbiddenError) as e:
            # A settings problem (token, region, permissions): one clear line naming the
            # setting and exit 1, no traceback (as the tap does).
            raise ConfigValidationError(str(e), errors=[str(e)]) from None

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        super().append_builtin_config(config_jsonschema)
        # Every stream is written by key (upsert / matched create): no load methods.
        config_jsonschema["properties"].pop("load_method", None)

    # -- rejects ----------------------------------------------------------------------------
    def _reject_line(self, line: str, line_number: int, reason: str) -> None:
        self.run_context.reject(
            stream=None,
            reason=f"{reason}: fix the producer of this line; the raw line is kept here",
            line=line,
            line_number=line_number,
            cause=InvalidInputLine(reason),
        )

    def _alias(self, stream: str) -> str:
        maps = self.mapper.stream_maps.get(stream) if self.mapper else None
        return maps[0].stream_alias if maps else stream

    def _message_reason(self, exc: Exception, stream: str) -> str:
        if isinstance(exc, RecordsWithoutSchemaException):
            if stream in self._bad_schemas:
                return (
                    f"stream {stream!r} has no valid SCHEMA ({self._bad_schemas[stream]}): "
                    "fix the SCHEMA message the tap sends"
                )
            return (
                f"RECORD for stream {stream!r} arrived before any SCHEMA message for it: the "
                "tap must send the stream's SCHEMA first (check the order of the input lines)"
            )
        if isinstance(exc, InvalidRecord):
            return (
                f"record does not match its stream's SCHEMA ({exc.error_message}): fix the "
                "record or the SCHEMA (validate_records: false turns this check off)"
            )
        if isinstance(exc, MissingKeyPropertiesError):
            maps = self.mapper.stream_maps.get(stream) if self.mapper else None
            keys = list(maps[0].transformed_key_properties or []) if maps else []
            return (
                f"record lacks the key properties {keys} its SCHEMA declares: add them to the "
                "record, or fix key_properties in the SCHEMA"
            )
        if isinstance(exc, MapExpressionError):
            return f"stream_maps expression failed on this record ({exc}): fix stream_maps"
        return f"{exc}: not a valid Singer RECORD message"

    # -- messages ---------------------------------------------------------------------------
    @override
    def on_record(self, message_dict: dict) -> None:
        self._record(message_dict, self.line_number, None)

    def _record(self, message_dict: dict, line: int | None, source: str | None) -> None:
        stream = str(message_dict.get("stream"))
        record = message_dict.get("record")
        pos = self.run_context.position
        pos.stream, pos.record, pos.line, pos.source = stream, record, line, source
        if "record" in message_dict and not isinstance(record, dict):
            self.run_context.reject(
                stream=stream,
                reason="RECORD message whose record is not a JSON object",
                record=record,
                line_number=line,
                source=source,
            )
            return
        try:
            self.sdk_record(message_dict)
        except MESSAGE_ERRORS as exc:
            self.run_context.reject(
                stream=stream,
                tally_stream=self._alias(stream),
                reason=self._message_reason(exc, stream),
                record=record,
                line_number=line,
                source=source,
                cause=exc,
            )

    @override
    def on_batch(self, message_dict: dict) -> None:
        """Each record of the BATCH message's files, as a RECORD line of its stream."""
        line = self.line_number
        stream = str(message_dict.get("stream"))
        try:
            batch_files.check(message_dict)
        except batch_files.BatchMessageError as exc:
            self._reject_line(serialize_json(message_dict), line or 0, f"BATCH message: {exc}")
            return
        row = None
        try:
            for row in batch_files.rows(message_dict):
                if row.error is None:
                    record = {"type": "RECORD", "stream": stream, "record": row.record}
                    self._record(record, line, row.source)
                    continue
                self.run_context.reject(
                    stream=stream,
                    tally_stream=self._alias(stream),
                    reason=f"batch file row {row.source} is {row.error}: fix the tap's batch "
                    "file; the raw row is kept here",
                    line=row.line,
                    line_number=line,
                    source=row.source,
                    cause=InvalidInputLine(row.error),
                )
        except (OSError, EOFError, UnicodeDecodeError) as exc:
            after = f" after row {row.source}" if row is not None else ""
            self._reject_line(
                serialize_json(message_dict),
                line or 0,
                f"BATCH message: a batch file could not be read{after} ({exc}); the rows "
                "before it were processed",
            )

    @override
    def on_schema(self, message_dict: dict) -> None:
        stream = str(message_dict.get("stream"))
        try:
            self.sdk_schema(message_dict)
        except MESSAGE_ERRORS as exc:
            self._bad_schemas[stream] = f"line {self.line_number}: {exc}"
            self.run_context.reject(
                stream=stream,
                reason=(
                    f"invalid SCHEMA message for stream {stream!r} ({exc}); its records are "
                    "rejected until a valid SCHEMA arrives"
                ),
                line=serialize_json(message_dict),
                line_number=self.line_number,
                cause=exc,
            )
            return
        self._bad_schemas.pop(stream, None)
        for stream_map in self.mapper.stream_maps.get(stream, []):
            alias = stream_map.stream_alias
            if alias not in STREAMS and f"stream:{alias}" not in self._warned:
                self._warned.add(f"stream:{alias}")
                self.logger.warning(
                    "%s; its records will be rejected", unknown_stream_reason(alias)
                )

    @override
    def on_state(self, message_dict: dict) -> None:
        try:
            self.sdk_state(message_dict)
        except InvalidInputLine as exc:
            self._reject_line(serialize_json(message_dict), self.line_number or 0, str(exc))

    @override
    def on_activate_version(self, message_dict: dict) -> None:
        stream = str(message_dict.get("stream"))
        if f"activate:{stream}" not in self._warned:
            self._warned.add(f"activate:{stream}")
            self.logger.warning(
                "ACTIVATE_VERSION for stream %s ignored: this target removes contacts only for "
                "records carrying _sdc_deleted_at (delete_mode)",
                stream,
            )

    @override
    def on_state_ready(self, state: dict) -> None:
        if self.options.dry_run:
            # Meltano stores every STATE a target emits: one from a dry run would make the
            # next real run of an incremental tap skip the rows it never wrote.
            if "dry_run_state" not in self._warned:
                self._warned.add("dry_run_state")
                self.logger.info("dry run: STATE not emitted (nothing was written)")
            return
        # A STATE must never cover a reject or a result that is not on disk.
        self.run_context.sync()
        self.emit_state(state)

    @override
    def process_endofpipe(self) -> None:
        failed = True
        try:
            super().process_endofpipe()
            failed = False
        finally:
            self.run_context.finish(failed, SUMMARY_NOTES)


if __name__ == "__main__":
    TargetIntercom.cli()
