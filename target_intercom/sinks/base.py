"""The base of every Intercom sink: batches, per-record outcomes, rejects, dry runs.

The batch is the unit of durability (anchor: MeltanoLabs/target-postgres sinks):
``process_batch`` returns only when every record of the batch has its outcome (written and
acknowledged, found unchanged, or rejected to the rejects file). singer-sdk emits STATE
after draining every sink, so a STATE never covers a record still in flight. A failure of the
run itself (bad token, Intercom down after every retry, a write whose outcome stays unknown)
raises out of ``process_batch``: no STATE covers the batch and a re-run redoes it; the writes
are idempotent, so nothing is duplicated.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from typing import Any

import orjson
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import JSONSchemaValidator
from typing_extensions import override

from target_intercom.mapping import DELETED_AT
from target_intercom.outcomes import Outcome, RecordRejected
from target_intercom.workspace import Workspace, is_record_error, rejection

if t.TYPE_CHECKING:
    from target_intercom.target import TargetIntercom


@dataclass
class Pending:
    """A record waiting in a batch, with what a reject needs to name it."""

    record: dict[str, Any]  # after stream maps: what the sink maps
    raw: Any  # as received: what the rejects file keeps
    stream: str  # the input stream name
    line: int | None
    parsed: Any = None
    outcome: Outcome | None = field(default=None, repr=False)


class _Validator(JSONSchemaValidator):
    """The SDK's validator, with the failing field's path in the message."""

    @override
    def validate(self, record: dict) -> None:
        error = next(iter(self.validator.iter_errors(record)), None)
        if error is not None:
            where = error.json_path if error.json_path != "$" else "the record"
            raise InvalidRecord(f"{where}: {error.message}", record)


class IntercomSink(BatchSink):
    """Common mechanics; subclasses implement ``write_batch``."""

    MAX_SIZE_DEFAULT = 1000
    depends_on: t.ClassVar[tuple[str, ...]] = ()  # streams to write before this one

    def __init__(
        self,
        target: TargetIntercom,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        self.intercom_target = target
        self.options = target.options
        self._warned: set[str] = set()
        super().__init__(target, stream_name, schema, key_properties)

    @property
    def workspace(self) -> Workspace:
        return self.intercom_target.workspace

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    # -- SDK hooks ------------------------------------------------------------------------
    @override
    def get_validator(self) -> JSONSchemaValidator | None:
        if not self.validate_schema:
            return None
        return _Validator(self.schema, validate_formats=self.validate_field_string_format)

    @override
    def _validate_and_parse(self, record: dict) -> dict:
        # Validate only. The SDK would also turn date-time strings into datetime objects;
        # the mapping reads ISO 8601 and unix seconds itself and reports bad values per field,
        # and the rejects file keeps the record JSON as received.
        if self._validator is not None:
            self._validator.validate(record)
        try:  # what cannot be encoded as UTF-8 JSON cannot be sent (a lone surrogate, ...)
            orjson.dumps(record, default=str)  # default: the reader parses floats as Decimal
        except TypeError as e:
            raise InvalidRecord(
                f"the record cannot be sent as JSON ({e}); fix its encoding at the source",
                record,
            ) from None
        return record

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

    @override
    def process_record(self, record: dict, context: dict) -> None:
        stream, raw, line = self.intercom_target.current_input
        context.setdefault("records", []).append(Pending(record, raw, stream, line))

    @override
    def process_batch(self, context: dict) -> None:
        batch: list[Pending] = context.get("records", [])
        if not batch:
            return
        self.intercom_target.drain_streams(self.depends_on)
        self.write_batch(batch)
        missing = [p for p in batch if p.outcome is None]
        if missing:  # a bug, never expected: fail loudly rather than lose records
            raise RuntimeError(f"{len(missing)} {self.stream_name} records got no outcome")
        self.intercom_target.batch_done(self.stream_name, len(batch))

    # -- for subclasses -------------------------------------------------------------------
    def write_batch(self, batch: list[Pending]) -> None:
        raise NotImplementedError

    def done(self, item: Pending, outcome: Outcome, what: str = "") -> None:
        """Record one outcome (exactly once per record)."""
        if item.outcome is not None:
            raise RuntimeError(f"record at line {item.line} got a second outcome {outcome}")
        item.outcome = outcome
        self.intercom_target.tally.add(self.stream_name, outcome)
        if self.dry_run and outcome is not Outcome.UNCHANGED:
            detail = f" ({what})" if what else ""
            self.logger.info("dry run: line %s would be %s%s", item.line, outcome.value, detail)

    def reject(self, item: Pending, error: RecordRejected) -> None:
        if item.outcome is not None:
            raise RuntimeError(f"record at line {item.line} rejected after {item.outcome}")
        item.outcome = Outcome.REJECTED
        self.intercom_target.reject(
            stream=item.stream,
            tally_stream=self.stream_name,
            reason=error.reason,
            record=item.raw,
            line_number=item.line,
            code=error.code,
            status=error.status,
            request_id=error.request_id,
        )

    def guarded(self, item: Pending, action: t.Callable[[Pending], Outcome], what: str) -> Outcome:
        """Run one record's action and record its outcome. A RecordRejected or a 4xx from
        Intercom rejects the record; other errors (failures of the run) propagate."""
        try:
            outcome = action(item)
        except RecordRejected as r:
            self.reject(item, r)
            return Outcome.REJECTED
        except Exception as e:
            if not is_record_error(e):
                raise
            self.reject(item, rejection(e, what))  # type: ignore[arg-type]
            return Outcome.REJECTED
        self.done(item, outcome, self.describe(item))
        return outcome

    def describe(self, item: Pending) -> str:
        """A short name of the record's object, for dry-run log lines."""
        return ""

    def warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self.logger.warning(message, *args)

    def parse_all(self, batch: list[Pending], parse: t.Callable[[dict], Any]) -> list[Pending]:
        """Map every record; reject the ones that do not map. Returns the mapped ones."""
        ok = []
        for item in batch:
            try:
                item.parsed = parse(item.record)
            except RecordRejected as r:
                self.reject(item, r)
                continue
            for column in getattr(item.parsed, "ignored", ()):
                self.warn_once(
                    f"ignored:{column}",
                    "%s: column %r is not an Intercom field and extra_columns=ignore: ignored",
                    self.stream_name,
                    column,
                )
            ok.append(item)
        return ok

    def check_attributes(self, items: list[Pending], model: str) -> list[Pending]:
        """Reject records using custom attributes that do not exist (and are not created)."""
        samples: dict[str, Any] = {}
        for item in items:
            for name, value in item.parsed.custom_attributes.items():
                if value is not None:
                    samples.setdefault(name, value)
        unknown = self.workspace.prepare_attributes(model, samples)
        if not unknown:
            return items
        ok = []
        for item in items:
            bad = sorted(unknown & set(item.parsed.custom_attributes))
            if bad:
                self.reject(
                    item,
                    RecordRejected(
                        f"unknown custom attribute(s) {', '.join(bad)}: Intercom accepts only "
                        f"existing {model} data attributes; create them in Intercom, set "
                        "create_custom_attributes: true, or set extra_columns: ignore",
                        code="unknown_custom_attribute",
                    ),
                )
            else:
                ok.append(item)
        return ok
