"""Pins the singer-sdk behaviour ``target_intercom.sdk_hooks`` relies on (its docstring).

These run singer-sdk's own Target and BatchSink, not this target: if an SDK upgrade changes
how messages are dispatched, when STATE is written, where active sinks are kept or which
private methods a record goes through, a test here fails, rather than the target silently
losing records or moving bookmarks too early.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from typing import Any, ClassVar

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.sinks import BatchSink

from target_intercom.sdk_hooks import SinkHooks, TargetHooks

EVENTS: list[tuple[str, Any]] = []


class RecordingSink(BatchSink):
    MAX_SIZE_DEFAULT = 2

    def _validate_and_parse(self, record: dict) -> dict:
        EVENTS.append(("validate", dict(record)))
        return super()._validate_and_parse(record)

    def _remove_sdc_metadata_from_record(self, record: dict) -> None:
        EVENTS.append(("remove_sdc", dict(record)))
        super()._remove_sdc_metadata_from_record(record)

    def process_record(self, record: dict, context: dict) -> None:
        EVENTS.append(("process_record", dict(record)))
        context.setdefault("records", []).append(record)

    def process_batch(self, context: dict) -> None:
        EVENTS.append(("process_batch", [r["id"] for r in context.get("records", [])]))


class RecordingTarget(Target):
    name = "target-recording"
    config_jsonschema: ClassVar[dict] = th.PropertiesList().to_dict()
    default_sink_class = RecordingSink

    def _process_record_message(self, message_dict: dict) -> None:
        EVENTS.append(("record_message", message_dict["record"]["id"]))
        super()._process_record_message(message_dict)

    def _process_state_message(self, message_dict: dict) -> None:
        EVENTS.append(("state_message", message_dict["value"]))
        super()._process_state_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        EVENTS.append(("batch_message", message_dict["stream"]))

    def _process_activate_version_message(self, message_dict: dict) -> None:
        EVENTS.append(("activate_version", message_dict["stream"]))

    def _process_schema_message(self, message_dict: dict) -> None:
        EVENTS.append(("schema_message", message_dict["stream"]))
        super()._process_schema_message(message_dict)

    def _write_state_message(self, state: dict) -> None:
        EVENTS.append(("write_state", state))
        super()._write_state_message(state)


SCHEMA = {
    "type": "SCHEMA",
    "stream": "s",
    "key_properties": ["id"],
    "schema": {
        "properties": {"id": {"type": "integer"}, "_sdc_deleted_at": {"type": ["string", "null"]}}
    },
}


def record(n: int, **extra: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "s", "record": {"id": n, **extra}}


def run(*messages: dict[str, Any]) -> tuple[RecordingTarget, str]:
    EVENTS.clear()
    target = RecordingTarget(config={})
    out = io.StringIO()
    with redirect_stdout(out):
        target.listen(io.StringIO("".join(json.dumps(m) + "\n" for m in messages)))
    return target, out.getvalue()


def test_messages_are_dispatched_to_the_private_handlers() -> None:
    run(
        SCHEMA,
        record(1),
        {"type": "STATE", "value": {"n": 1}},
        {"type": "BATCH", "stream": "s", "encoding": {"format": "jsonl"}, "manifest": []},
        {"type": "ACTIVATE_VERSION", "stream": "s", "version": 1},
    )
    kinds = [e[0] for e in EVENTS]
    for kind in ("schema_message", "record_message", "state_message", "batch_message"):
        assert kind in kinds
    assert "activate_version" in kinds


def test_state_is_written_only_by_drain_all_after_every_batch() -> None:
    """A STATE arriving mid-batch is held; it is written once every sink is drained."""
    _, out = run(
        SCHEMA,
        record(1),
        {"type": "STATE", "value": {"n": 1}},
        record(2),
        record(3),  # the sink is full at 2: drained, but no STATE written by that drain
        {"type": "STATE", "value": {"n": 3}},
    )
    order = [e[0] for e in EVENTS if e[0] in ("process_batch", "write_state")]
    assert order == ["process_batch", "process_batch", "write_state"]
    assert [json.loads(line) for line in out.splitlines()] == [{"n": 3}]


def test_records_are_validated_before_process_record_and_sdc_columns_removed() -> None:
    run(SCHEMA, record(1, _sdc_deleted_at="2024-01-01T00:00:00Z"))
    kinds = [e[0] for e in EVENTS if e[0] in ("remove_sdc", "validate", "process_record")]
    assert kinds == ["remove_sdc", "validate", "process_record"]
    processed = next(e[1] for e in EVENTS if e[0] == "process_record")
    assert "_sdc_deleted_at" not in processed  # what SinkHooks puts back


def test_active_sinks_are_kept_by_stream_name() -> None:
    target, _ = run(SCHEMA)
    assert isinstance(target._sinks_active, dict)
    assert isinstance(target._sinks_active["s"], RecordingSink)


def test_the_hooks_override_methods_the_sdk_still_has() -> None:
    """Every private the hooks module overrides exists on the SDK class it extends."""
    for cls, base in ((TargetHooks, Target), (SinkHooks, BatchSink)):
        privates = [
            n
            for n, v in vars(cls).items()
            if n.startswith("_") and not n.startswith("__") and callable(v)
        ]
        assert privates
        for name in privates:
            assert callable(getattr(base, name, None)), f"{base.__name__}.{name} is gone"
    sink = vars(SinkHooks)
    assert "_validate_and_parse" in sink and "_remove_sdc_metadata_from_record" in sink
