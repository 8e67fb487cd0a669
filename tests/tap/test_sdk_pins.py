"""Pins of the singer-sdk behaviour behind each private hook in tap_intercom/sdk_hooks.py.

A singer-sdk release that changes one of these must fail here, loudly, before it can change
what a bookmark means: the pin on singer-sdk in pyproject.toml is widened only as far as
these pass.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import io
import json
import re
import signal
import textwrap
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.plugin_base import PluginBase
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage

from tap_intercom.sdk_hooks import (
    BufferedMsgSpecWriter,
    ExtraConfigChecks,
    FastRecordMessages,
    SafeTermination,
    SideBySideSync,
    StreamStateWriter,
    WatermarkBookmark,
)

SCHEMA = th.PropertiesList(
    th.Property("id", th.StringType), th.Property("updated_at", th.DateTimeType)
).to_dict()
CALLS: list[tuple[str, Any]] = []


class Plain(Stream):
    name = "plain"
    schema = SCHEMA
    primary_keys: ClassVar[list[str]] = ["id"]  # type: ignore[misc]
    replication_key = "updated_at"
    is_sorted = True
    STATE_MSG_FREQUENCY = 3

    def get_records(self, context: Any) -> Iterable[dict[str, Any]]:
        for i in range(7):
            yield {"id": str(i), "updated_at": f"2026-01-0{i + 1}T00:00:00+00:00"}

    def _write_record_message(self, record: dict[str, Any]) -> None:
        CALLS.append(("record", record["id"]))

    def _increment_stream_state(self, latest_record: Any, *, context: Any = None) -> None:
        CALLS.append(("increment", latest_record["id"]))
        super()._increment_stream_state(latest_record, context=context)

    def _write_state_message(self) -> None:
        CALLS.append(("state", None))


class Watermarked(WatermarkBookmark, Plain):
    name = "watermarked"

    def on_record(self, context: Any) -> None:
        CALLS.append(("on_record", None))


class PinTap(Tap):
    name = "tap-pin"
    config_jsonschema = th.PropertiesList(th.Property("x", th.StringType)).to_dict()

    def discover_streams(self) -> list[Stream]:
        return [Plain(self), Watermarked(self)]


def tap() -> PinTap:
    return PinTap(config={}, validate_config=False)


def test_increment_stream_state_is_called_once_per_record_after_its_write() -> None:
    """WatermarkBookmark counts records here; a STATE follows the increment that precedes it."""
    CALLS.clear()
    stream = tap().streams["plain"]
    for _ in stream._sync_records(context=None):
        pass
    per_record = [c for c in CALLS if c[0] in ("record", "increment")]
    assert per_record == [(k, str(i)) for i in range(7) for k in ("record", "increment")]
    # A STATE every STATE_MSG_FREQUENCY records, right after that record's increment.
    for i, call in enumerate(CALLS):
        if call[0] == "state" and i + 1 < len(CALLS):
            assert CALLS[i - 1][0] == "increment"


def test_the_sdk_sets_a_sorted_streams_bookmark_to_the_value_given() -> None:
    """save_bookmark relies on this: the value we pass is the bookmark, as given."""
    stream = tap().streams["watermarked"]
    assert isinstance(stream, Watermarked)
    for value in ("2026-01-01T00:00:00+00:00", "2026-01-05T00:00:00+00:00"):
        stream.save_bookmark(value, None)
        state = stream.get_context_state(None)
        assert state["replication_key_value"] == value
        assert state["replication_key"] == "updated_at"
        assert "progress_markers" not in state


def test_watermark_streams_get_the_per_record_hook_instead_of_the_sdks_bookkeeping() -> None:
    CALLS.clear()
    stream = tap().streams["watermarked"]
    for _ in stream._sync_records(context=None):
        pass
    assert [c for c in CALLS if c[0] == "on_record"] == [("on_record", None)] * 7
    assert not [c for c in CALLS if c[0] == "increment"]


def test_generate_record_messages_matches_the_sdks_own() -> None:
    """FastRecordMessages skips work, never changes output: compare both on one record."""

    class Fast(FastRecordMessages, Plain):
        name = "plain"

    t = tap()
    fast = Fast(t)
    sdk = t.streams["plain"]
    record = {"id": "1", "updated_at": "2026-01-01T00:00:00+00:00"}
    sdk_time = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    fast._extracted_at = sdk_time
    ours = [m.to_dict() for m in fast._generate_record_messages(dict(record))]
    theirs = [m.to_dict() for m in sdk._generate_record_messages(dict(record))]
    for m in theirs:
        m["time_extracted"] = sdk_time
    for m in ours:
        m["time_extracted"] = sdk_time
    assert ours == theirs
    assert inspect.signature(pop_deselected_record_properties).parameters.keys() >= {
        "record",
        "schema",
        "mask",
    }


def test_validate_config_takes_raise_errors_and_returns_the_problems() -> None:
    class Checked(ExtraConfigChecks, PinTap):
        def extra_config_problems(self) -> list[str]:
            return ["x is wrong"]

    sig = inspect.signature(Tap._validate_config)
    assert "raise_errors" in sig.parameters
    checked = Checked(config={"x": "a"}, validate_config=False)
    assert checked._validate_config(raise_errors=False) == ["x is wrong"]


def test_the_sdk_installs_handle_termination_for_sigterm_and_sigint() -> None:
    class Safe(SafeTermination, PinTap):
        message_writer_class = BufferedMsgSpecWriter

    before = (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT))
    try:
        t = Safe(config={}, validate_config=False)
        for sig in (signal.SIGTERM, signal.SIGINT):
            handler = signal.getsignal(sig)
            assert getattr(handler, "__func__", None) is SafeTermination._handle_termination
        assert hasattr(PluginBase, "_handle_termination")
        assert isinstance(t.message_writer, BufferedMsgSpecWriter)
        # The state writer the stop uses writes a STATE message through that writer.
        out = io.BytesIO()
        wrapper = io.TextIOWrapper(out, encoding="utf-8")
        with contextlib.redirect_stdout(wrapper):
            t._state_writer.write_state({"bookmarks": {"plain": {}}})
            wrapper.flush()
        assert json.loads(out.getvalue())["type"] == "STATE"
    finally:
        signal.signal(signal.SIGTERM, before[0])
        signal.signal(signal.SIGINT, before[1])


# What Tap.sync_all does, in order (singer-sdk 0.54): SideBySideSync.selected_streams does
# the preamble and the selection, sync_one each stream's part of the loop, after_streams
# the cost lines. A release that changes this loop must be read again before the pin moves.
SDK_SYNC_ALL = [
    "self._reset_state_progress_markers",
    "self._set_compatible_replication_methods",
    "self.state",
    "self._state_writer.write_state",
    "self.state",
    "self.streams.values",
    "stream.selected",
    "stream.has_selected_descendents",
    "self.logger.info",
    "stream.name",
    "stream.parent_stream_type",
    "self.logger.debug",
    "stream.parent_stream_type.__name__",
    "stream.sync",
    "stream.finalize_state_progress_markers",
    "self.streams.values",
    "stream.log_sync_costs",
]


def test_the_sdks_sync_loop_is_the_one_side_by_side_sync_repeats() -> None:
    body = textwrap.dedent(inspect.getsource(Tap.sync_all)).split('"""')[2]
    assert re.findall(r"(?:self|stream)(?:\.\w+)+", body) == SDK_SYNC_ALL
    for hook in ("_reset_state_progress_markers", "_set_compatible_replication_methods"):
        assert callable(getattr(Tap, hook))


def test_streams_write_their_state_through_the_taps_state_writer() -> None:
    """StreamStateWriter replaces the tap's writer; every stream STATE must go through it."""

    class SideBySide(SideBySideSync, PinTap):
        message_writer_class = BufferedMsgSpecWriter

    t = SideBySide(config={}, validate_config=False)
    t.use_stream_state_writer()
    assert isinstance(t.state_writer, StreamStateWriter)
    assert "state_writer.write_state(self.tap_state)" in inspect.getsource(
        Stream._write_state_message
    )
    out = io.BytesIO()
    wrapper = io.TextIOWrapper(out, encoding="utf-8")
    stream = t.streams["plain"]
    with contextlib.redirect_stdout(wrapper), t.state_writer.owner(["plain"]):
        Stream._increment_stream_state(stream, {"id": "1", "updated_at": "2026-01-01T00:00:00"})
        stream.state_manager.is_flushed = False  # as after a record the sync loop counted
        Stream._write_state_message(stream)
        wrapper.flush()
    state = json.loads(out.getvalue().splitlines()[-1])["value"]
    assert state["bookmarks"]["plain"]["replication_key_value"] == "2026-01-01T00:00:00"


def test_each_threads_encoder_writes_the_sdks_lines() -> None:
    """BufferedMsgSpecWriter encodes with an encoder per thread (the SDK's reuses one
    buffer); its lines must stay byte for byte the SDK's."""
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=dt.timezone.utc)
    messages = [
        RecordMessage(
            stream="s",
            record={"id": "1", "n": Decimal("1.50"), "at": when, "x": [1, None, "é"]},
            time_extracted=when,
        ),
        StateMessage(value={"bookmarks": {"s": {"replication_key_value": "2026-01-01"}}}),
        SchemaMessage(stream="s", schema=SCHEMA, key_properties=["id"]),
    ]
    ours, theirs = BufferedMsgSpecWriter(), MsgSpecWriter()
    for message in messages:
        assert ours.serialize_message(message) == bytes(theirs.serialize_message(message))
