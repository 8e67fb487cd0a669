"""The base of every Intercom sink: batches, per-record outcomes, rejects, dry runs.

The batch is the unit of durability (anchor: MeltanoLabs/target-postgres sinks):
``process_batch`` returns only when every record of the batch has its outcome (written and
acknowledged, found unchanged, skipped by ``write_mode``, or kept in the rejects file).
singer-sdk emits STATE after draining every sink, so a STATE never covers a record still in
flight. A failure of the run itself (bad token, Intercom down after every retry, a lead
create whose outcome stays unknown) raises out of ``process_batch``: no STATE covers the
batch and a re-run redoes it.

A sink takes everything it needs from the run context (``target_intercom.context``) when
the SDK creates it, and never calls back into the target.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from typing import Any

import orjson
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.sinks.core import JSONSchemaValidator
from typing_extensions import override

from target_intercom import attributes
from target_intercom.context import RunContext
from target_intercom.outcomes import Outcome, RecordRejected
from target_intercom.sdk_hooks import SinkHooks
from target_intercom.workspace import Workspace, is_record_error, rejection

if t.TYPE_CHECKING:
    from intercom_api import ApiResponse


@dataclass
class Pending:
    """A record waiting in a batch, with what a reject or a result line needs."""

    record: dict[str, Any]  # after stream maps: what the sink maps
    raw: Any  # as received: what the rejects file keeps
    stream: str  # the input stream name
    line: int | None
    mode: str = "upsert"  # write_mode of this row
    source: str | None = None  # BATCH file and row
    parsed: Any = None
    outcome: Outcome | None = field(default=None, repr=False)
    intercom_id: str | None = None
    request_id: str | None = None
    note: str | None = None  # something the results file says about the outcome


class _Validator(JSONSchemaValidator):
    """The SDK's validator, with the failing field's path in the message."""

    @override
    def validate(self, record: dict) -> None:
        error = next(iter(self.validator.iter_errors(record)), None)
        if error is not None:
            where = error.json_path if error.json_path != "$" else "the record"
            raise InvalidRecord(f"{where}: {error.message}", record)


class IntercomSink(SinkHooks):
    """Common mechanics; subclasses implement ``write_batch``."""

    MAX_SIZE_DEFAULT = 1000
    depends_on: t.ClassVar[tuple[str, ...]] = ()  # streams to write before this one
    key_fields: t.ClassVar[tuple[str, ...]] = ()  # identifying columns for results lines

    def __init__(
        self,
        target: Any,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        # The SDK constructs sinks with the target; the sink keeps only the run context.
        self.run: RunContext = target.run_context
        self.options = self.run.options
        self._warned: set[str] = set()
        super().__init__(target, stream_name, schema, key_properties)
        self.date_columns = attributes.schema_date_columns(self.schema)

    @property
    def workspace(self) -> Workspace:
        return self.run.workspace

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
    def check_record(self, record: dict) -> None:
        if self.validator is not None:
            self.validator.validate(record)
        try:  # what cannot be encoded as UTF-8 JSON cannot be sent (a lone surrogate, ...)
            orjson.dumps(record, default=str)  # default: the reader parses floats as Decimal
        except TypeError as e:
            raise InvalidRecord(
                f"the record cannot be sent as JSON ({e}); fix its encoding at the source",
                record,
            ) from None

    @override
    def process_record(self, record: dict, context: dict) -> None:
        pos = self.run.position
        mode = self.options.write_mode_for(pos.stream, self.stream_name)
        pending = Pending(record, pos.record, pos.stream, pos.line, mode, pos.source)
        context.setdefault("records", []).append(pending)

    @override
    def process_batch(self, context: dict) -> None:
        batch: list[Pending] = context.get("records", [])
        if not batch:
            return
        self.run.drain(self.depends_on)
        self.write_batch(batch)
        missing = [p for p in batch if p.outcome is None]
        if missing:  # a bug, never expected: fail loudly rather than lose records
            raise RuntimeError(f"{len(missing)} {self.stream_name} records got no outcome")
        self.run.batch_done(self.stream_name, len(batch))

    # -- for subclasses -------------------------------------------------------------------
    def write_batch(self, batch: list[Pending]) -> None:
        raise NotImplementedError

    def send(
        self,
        item: Pending,
        method: str,
        path: str,
        body: Any = None,
        *,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """One write for ``item``; the request id of its first write is kept for the results
        file (later ones, such as attaching tags, are follow-ups)."""
        response: ApiResponse = self.workspace.client.request(
            method, path, json=body, idempotent=idempotent
        )
        item.request_id = item.request_id or response.request_id
        return response.data or {}

    def keys(self, item: Pending) -> dict[str, Any]:
        """The record's key columns (its SCHEMA's key properties, and the columns this
        stream matches on), as received: for the results file."""
        record = item.record if isinstance(item.record, dict) else {}
        names = [*self.key_properties, *self.key_fields]
        return {n: record.get(n) for n in dict.fromkeys(names) if n in record}

    def done(self, item: Pending, outcome: Outcome, what: str = "") -> None:
        """Record one outcome (exactly once per record)."""
        if item.outcome is not None:
            raise RuntimeError(f"record at line {item.line} got a second outcome {outcome}")
        item.outcome = outcome
        self.run.tally.add(self.stream_name, outcome)
        detail = f" ({what})" if what else ""
        if outcome in (Outcome.SKIPPED_NO_MATCH, Outcome.SKIPPED_EXISTS):
            why = "matches nothing" if outcome is Outcome.SKIPPED_NO_MATCH else "already exists"
            self.run.log_limited(
                outcome.value,
                "%s: line %s skipped (write_mode %s: it %s)%s",
                self.stream_name,
                item.line,
                item.mode,
                why,
                detail,
            )
        elif self.dry_run and outcome is not Outcome.UNCHANGED:
            self.logger.info("dry run: line %s would be %s%s", item.line, outcome.value, detail)
        self.run.result(
            stream=self.stream_name,
            outcome=outcome,
            keys=self.keys(item),
            line_number=item.line,
            intercom_id=item.intercom_id,
            request_id=item.request_id,
            reason=item.note,
        )

    def reject(self, item: Pending, error: RecordRejected) -> None:
        if item.outcome is not None:
            raise RuntimeError(f"record at line {item.line} rejected after {item.outcome}")
        item.outcome = error.outcome
        self.run.reject(
            stream=item.stream,
            tally_stream=self.stream_name,
            reason=error.reason,
            record=item.raw,
            line_number=item.line,
            code=error.code,
            status=error.status,
            request_id=error.request_id,
            outcome=error.outcome,
            source=item.source,
        )
        self.run.result(
            stream=self.stream_name,
            outcome=error.outcome,
            keys=self.keys(item),
            line_number=item.line,
            intercom_id=item.intercom_id,
            request_id=error.request_id or item.request_id,
            reason=error.reason,
        )

    def guarded(self, item: Pending, action: t.Callable[[Pending], Outcome], what: str) -> Outcome:
        """Run one record's action and record its outcome. A RecordRejected or a 4xx from
        Intercom rejects the record; other errors (failures of the run) propagate."""
        try:
            outcome = action(item)
        except RecordRejected as r:
            self.reject(item, r)
            return r.outcome
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
        """Send each custom attribute in its Intercom type (dates as unix seconds, see
        ``target_intercom.attributes``); reject records using attributes that do not exist
        (and are not created) or values that do not fit the attribute's type."""
        samples: dict[str, Any] = {}
        used: set[str] = set()
        for item in items:
            for name, value in item.parsed.custom_attributes.items():
                used.add(name)
                if value is not None:
                    samples.setdefault(name, value)
        if not used:
            return items
        # Attributes to create are typed by their values; one only ever cleared (null) is
        # never created: there is nothing to clear in an attribute that does not exist.
        wanted = {
            name: attributes.infer_type(name, value, self.date_columns)
            for name, value in sorted(samples.items())
        }
        types, unknown = self.workspace.prepare_attributes(model, wanted)
        if types is None:  # the list cannot be read: dates by the schema and names only
            types = {n: d for n, d in wanted.items() if d == "date"}
        else:
            unknown |= {n for n in used - set(samples) if n not in types}
        ok = []
        for item in items:
            custom = item.parsed.custom_attributes
            for name in [n for n in custom if n in unknown and custom[n] is None]:
                del custom[name]  # clearing an attribute that does not exist: nothing to do
            bad = sorted(unknown & set(custom))
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
                continue
            try:
                for name, value in custom.items():
                    custom[name] = attributes.convert(name, value, types.get(name), model)
            except RecordRejected as r:
                self.reject(item, r)
                continue
            ok.append(item)
        return ok
