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
STATE covers the unfinished batch. See ``target_intercom.reader`` for how unreadable lines
are caught, and ``sinks.base`` for the batch/STATE contract.
"""

from __future__ import annotations

import threading
import uuid
from typing import IO, Any

from singer_sdk import Target
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
from target_intercom.outcomes import Outcome, Reject, RejectsFile, Tally, TooManyRejectsError
from target_intercom.reader import RejectingSingerReader
from target_intercom.settings import STREAMS, TargetOptions, config_schema
from target_intercom.sinks import SINKS, IntercomSink, UnknownStreamSink
from target_intercom.sinks.unknown import unknown_stream_reason
from target_intercom.workspace import Workspace

UNREADABLE = "(unreadable lines)"  # the tally's name for lines that are not Singer messages
LOGGED_REJECTS = 50  # rejects logged one by one; the rest are counted (all are in the file)

# Problems with one message: it is rejected and the run goes on.
MESSAGE_ERRORS = (
    RecordsWithoutSchemaException,
    InvalidRecord,
    MissingKeyPropertiesError,
    InvalidInputLine,
    InvalidJSONSchema,
    MapExpressionError,
)


class TargetIntercom(Target):
    """Writes users, leads, companies and events into Intercom (reverse ETL).

    Streams: users (upsert by external_id or e-mail), leads (idempotent create), companies
    (upsert by company_id), events (data events). Other stream names are rejected: rename them
    with stream_maps, e.g. {"crm_customers": {"__alias__": "users"}}. Rejected records go to
    rejects_file with the reason; a summary of outcomes is logged at the end.
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
        self.run_id = uuid.uuid4().hex[:12]
        self.tally = Tally()
        self.rejects = RejectsFile(self.options.rejects_file, self.run_id)
        self.current_input: tuple[str, Any, int | None] = ("", None, None)
        self._workspace: Workspace | None = None
        self._lock = threading.Lock()
        self._warned: set[str] = set()
        self._bad_schemas: dict[str, str] = {}
        if isinstance(self.message_reader, RejectingSingerReader):
            self.message_reader.on_bad_line = self._reject_line

    # -- shared state -----------------------------------------------------------------------
    @property
    def workspace(self) -> Workspace:
        """The run's API client, write threads and caches; created on first use."""
        with self._lock:
            if self._workspace is None:
                settings = self._client_settings or ClientSettings.from_config(self.config)
                self._workspace = Workspace(settings, self.options, self.logger)
            return self._workspace

    @property
    def line_number(self) -> int | None:
        reader = self.message_reader
        return reader.line_number if isinstance(reader, RejectingSingerReader) else None

    @override
    def get_sink_class(self, stream_name: str) -> type[IntercomSink]:
        return SINKS.get(stream_name, UnknownStreamSink)

    @override
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
        # Every stream is written by key (upsert / idempotent create): no load methods.
        config_jsonschema["properties"].pop("load_method", None)

    def drain_streams(self, streams: tuple[str, ...]) -> None:
        """Write the pending records of ``streams`` now (a sink's dependencies)."""
        for name in streams:
            sink = self._sinks_active.get(name)
            if sink is not None and sink.current_size:
                self.drain_one(sink)

    def batch_done(self, stream: str, size: int) -> None:
        self.logger.info("%s: batch of %d records done (%s)", stream, size, self._counts(stream))

    def _counts(self, stream: str) -> str:
        counts = self.tally.as_dict().get(stream, {})
        return ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "none"

    # -- rejects ----------------------------------------------------------------------------
    def reject(
        self,
        *,
        stream: str | None,
        reason: str,
        tally_stream: str | None = None,
        record: Any = None,
        line: str | None = None,
        line_number: int | None = None,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        """Write one reject, count it, and fail the run past ``max_rejects``.

        Past the limit the error that caused the reject is raised (so a fail-fast run stops
        with the SDK's own exception types), else TooManyRejectsError.
        """
        self.rejects.write(
            Reject(stream, reason, record, line, line_number, code, status, request_id)
        )
        self.tally.add(tally_stream or stream or UNREADABLE, Outcome.REJECTED)
        total = self.tally.rejected
        if total <= LOGGED_REJECTS:
            where = f"line {line_number}" if line_number else "a record"
            of = f" of stream {stream}" if stream else ""
            self.logger.warning("Rejected %s%s: %s", where, of, reason)
        elif total == LOGGED_REJECTS + 1:
            self.logger.warning("More rejects: see %s (the summary counts them)", self.rejects.path)
        limit = self.options.max_rejects
        if limit is not None and total > limit:
            self.logger.error(
                "%d records rejected, more than max_rejects=%d: stopping (rejects are in %s)",
                total,
                limit,
                self.rejects.path,
            )
            if cause is not None:
                raise cause
            raise TooManyRejectsError(
                f"{total} records rejected, more than max_rejects={limit}; last: {reason} "
                f"(all rejects are in {self.rejects.path})"
            )

    def _reject_line(self, line: str, line_number: int, reason: str) -> None:
        self.reject(
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
    def _process_record_message(self, message_dict: dict) -> None:
        stream = str(message_dict.get("stream"))
        record = message_dict.get("record")
        line = self.line_number
        self.current_input = (stream, record, line)
        if "record" in message_dict and not isinstance(record, dict):
            self.reject(
                stream=stream,
                reason="RECORD message whose record is not a JSON object",
                record=record,
                line_number=line,
            )
            return
        try:
            super()._process_record_message(message_dict)
        except MESSAGE_ERRORS as exc:
            self.reject(
                stream=stream,
                tally_stream=self._alias(stream),
                reason=self._message_reason(exc, stream),
                record=record,
                line_number=line,
                cause=exc,
            )

    @override
    def _process_schema_message(self, message_dict: dict) -> None:
        stream = str(message_dict.get("stream"))
        try:
            super()._process_schema_message(message_dict)
        except MESSAGE_ERRORS as exc:
            self._bad_schemas[stream] = f"line {self.line_number}: {exc}"
            self.reject(
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
    def _process_state_message(self, message_dict: dict) -> None:
        try:
            super()._process_state_message(message_dict)
        except InvalidInputLine as exc:
            self._reject_line(serialize_json(message_dict), self.line_number or 0, str(exc))

    @override
    def _process_activate_version_message(self, message_dict: dict) -> None:
        stream = str(message_dict.get("stream"))
        if f"activate:{stream}" not in self._warned:
            self._warned.add(f"activate:{stream}")
            self.logger.warning(
                "ACTIVATE_VERSION for stream %s ignored: this target removes contacts only for "
                "records carrying _sdc_deleted_at (delete_mode)",
                stream,
            )

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        self._reject_line(
            serialize_json(message_dict),
            self.line_number or 0,
            "BATCH messages are not supported: run the tap without batch mode",
        )

    @override
    def _write_state_message(self, state: dict) -> None:
        # A STATE must never cover a reject that is not on disk.
        self.rejects.sync()
        super()._write_state_message(state)

    @override
    def process_endofpipe(self) -> None:
        failed = True
        try:
            super().process_endofpipe()
            failed = False
        finally:
            self._finish(failed)

    def _finish(self, failed: bool) -> None:
        mode = "dry run (nothing written)" if self.options.dry_run else "run"
        end = " (stopped by an error: no STATE covers its last batch)" if failed else ""
        self.logger.info("Summary of the %s %s%s:", mode, self.run_id, end)
        for line in self.tally.lines() or ["no records"]:
            self.logger.info("  %s", line)
        if self.rejects.written:
            self.logger.warning("%d rejects written to %s", self.rejects.written, self.rejects.path)
        self.logger.info("Summary (JSON): %s", serialize_json(self.summary()))
        self.rejects.close()
        if self._workspace is not None:
            stats = self._workspace.client.stats
            self.logger.info("Intercom API: %s", serialize_json(stats))
            self._workspace.close()
            self._workspace = None

    def summary(self) -> dict[str, Any]:
        """Outcomes per stream, for the end-of-run log and for tests."""
        return {
            "run_id": self.run_id,
            "dry_run": self.options.dry_run,
            "streams": self.tally.as_dict(),
            "rejects_file": str(self.rejects.path) if self.rejects.written else None,
        }


if __name__ == "__main__":
    TargetIntercom.cli()
