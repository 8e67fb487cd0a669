"""Streams side by side (tap_intercom/scheduler.py) and the run's one pool of request threads.

Checked: the interleaved output is valid Singer (each stream's SCHEMA before its records)
and holds exactly what a one-at-a-time run holds; a STATE written for one stream carries
every other stream as of its own last STATE (a property over any interleaving); a failing
stream stops the others and the state left behind is a safe resume point; company_segments
starts after companies; every request made side by side runs on the one pool, whose width
max_workers sets.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import json
import re
import threading
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.singerlib import RecordMessage, StateMessage
from tap_support import (
    D0,
    TOKEN,
    SandboxControl,
    TapRun,
    catalog_selecting,
    open_together,
    run_tap,
)

from intercom_api.pool import PoolStopped, RequestPool
from intercom_sandbox.server import RunningSandbox
from tap_intercom.options import parse_ts
from tap_intercom.sdk_hooks import BufferedMsgSpecWriter, Interrupted, StreamStateWriter
from tap_intercom.search import SearchStream
from tap_intercom.tap import TapIntercom

STREAMS = (
    "users",
    "leads",
    "conversations",
    "conversation_parts",
    "tickets",
    "companies",
    "company_segments",
    "admins",
    "tags",
    "teams",
)
START = "2000-01-01T00:00:00Z"


@pytest.fixture
def seeded(ctl: SandboxControl) -> SandboxControl:
    ctl.clock(D0)
    ctl.seed(users=900, leads=300, conversations=120, companies=40, tickets=30)
    ctl.clock(D0 + 3600)
    return ctl


def record_runs(messages: list[dict[str, Any]]) -> list[str]:
    """The streams of the RECORD messages, consecutive repeats folded."""
    runs: list[str] = []
    for m in messages:
        if m["type"] == "RECORD" and (not runs or runs[-1] != m["stream"]):
            runs.append(m["stream"])
    return runs


def assert_valid_singer(messages: list[dict[str, Any]]) -> None:
    schemas: set[str] = set()
    for i, m in enumerate(messages):
        if m["type"] == "SCHEMA":
            schemas.add(m["stream"])
        elif m["type"] == "RECORD":
            assert m["stream"] in schemas, f"RECORD of {m['stream']} before its SCHEMA (#{i})"
        else:
            assert m["type"] in ("STATE", "ACTIVATE_VERSION"), m["type"]


def test_side_by_side_is_valid_singer_and_holds_what_one_at_a_time_holds(
    sandbox: RunningSandbox, seeded: SandboxControl
) -> None:
    catalog = catalog_selecting(STREAMS)
    one = run_tap(sandbox.base_url, catalog=catalog, start_date=START, parallel_streams=1)
    many = run_tap(sandbox.base_url, catalog=catalog, start_date=START, parallel_streams=8)
    assert_valid_singer(many.messages)
    for stream in STREAMS:
        key = ("conversation_id", "id") if stream == "conversation_parts" else ("id",)
        ids = [tuple(str(r.get(k)) for k in key) for r in one.records(stream)]
        got = [tuple(str(r.get(k)) for k in key) for r in many.records(stream)]
        assert sorted(ids) == sorted(got), stream
    # One at a time, each stream's records are one block and no two streams are open at
    # once; side by side, records of a stream follow other streams' SCHEMAs. (How finely
    # records interleave depends on timing and on each thread's 64 KiB record buffer.)
    assert len(record_runs(one.messages)) == len(set(record_runs(one.messages)))
    assert not open_together(one.messages)
    assert open_together(many.messages)
    for stream in ("users", "leads", "conversations", "conversation_parts", "tickets"):
        # Both at their signpost: sync start (read off the server's Date, to the second,
        # on its first answer) minus the lag margin, so the two runs may differ by a second.
        mark, other = many.bookmark(stream), one.bookmark(stream)
        assert mark is not None and other is not None, stream
        assert abs(parse_ts(mark) - parse_ts(other)) <= 2, (stream, mark, other)
    # company_segments reuses the companies scroll: it starts once companies has ended.
    last_company = max(
        i
        for i, m in enumerate(many.messages)
        if m["type"] == "RECORD" and m["stream"] == "companies"
    )
    segments_schema = next(
        i
        for i, m in enumerate(many.messages)
        if m["type"] == "SCHEMA" and m["stream"] == "company_segments"
    )
    assert last_company < segments_schema


def run_until_failure(base_url: str, **config: Any) -> tuple[BaseException, TapRun]:
    full = {"access_token": TOKEN, "api_url": base_url, **config}
    tap = TapIntercom(config=full, catalog=catalog_selecting(STREAMS), setup_mapper=True)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
        except Exception as e:
            error = e
    assert error is not None, "the run should have failed"
    out.seek(0)
    return error, TapRun(tap, [json.loads(line) for line in out.read().splitlines() if line])


def test_a_failing_stream_stops_the_others_and_leaves_a_safe_state(
    sandbox: RunningSandbox, seeded: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    clean = run_tap(sandbox.base_url, catalog=catalog_selecting(STREAMS), start_date=START)
    pages = {"n": 0}
    lock = threading.Lock()
    shape = SearchStream.shape

    def failing_shape(self: SearchStream, page: Any, unit: Any, seen: set[str]) -> Any:
        if self.name == "conversations":
            with lock:
                pages["n"] += 1
                if pages["n"] == 1:
                    raise RuntimeError("conversations broke")
        return shape(self, page, unit, seen)

    monkeypatch.setattr(SearchStream, "shape", failing_shape)
    error, failed = run_until_failure(
        sandbox.base_url, start_date=START, parallel_streams=8, max_workers=2
    )
    monkeypatch.setattr(SearchStream, "shape", shape)
    assert str(error) == "conversations broke"
    assert_valid_singer(failed.messages)
    # The state left behind is a resume point: the failed run plus a run resumed from its
    # last STATE hold everything a clean run holds.
    resumed = run_tap(
        sandbox.base_url, catalog=catalog_selecting(STREAMS), state=failed.state, start_date=START
    )
    for stream in ("users", "leads", "conversations", "tickets", "companies"):
        have = set(failed.ids(stream)) | set(resumed.ids(stream))
        assert set(clean.ids(stream)) <= have, stream


@settings(max_examples=200, derandomize=True, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["change", "state"])),
        max_size=40,
    )
)
def test_a_state_carries_each_stream_as_of_its_own_last_state(
    steps: list[tuple[str, str]],
) -> None:
    """Whatever the interleaving, every STATE holds, for each stream, exactly the part that
    stream had when it last wrote a STATE itself, never its live (maybe unsafe) part."""
    written: list[dict[str, Any]] = []

    class Out:
        def write_message(self, message: Any) -> None:
            written.append(copy.deepcopy(message.value))

    writer = StreamStateWriter(Out())
    live: dict[str, Any] = {"bookmarks": {"a": {"v": -1}}}
    writer.write_state(live)  # before the streams start: the whole state
    own: dict[str, Any] = {"a": {"v": -1}}
    for i, (name, step) in enumerate(steps):
        if step == "change":
            live["bookmarks"].setdefault(name, {})["v"] = i
            continue
        with writer.owner([name]):
            writer.write_state(live)
        if name in live["bookmarks"]:
            own[name] = copy.deepcopy(live["bookmarks"][name])
        assert written[-1] == {"bookmarks": own}
    assert all(a != b for a, b in itertools.pairwise(written))  # none repeated


def test_every_request_made_side_by_side_runs_on_the_one_pool(
    sandbox: RunningSandbox, seeded: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before: one pool per job (reader chains, id-part probes, company look-ups, the
    company list, conversation fetches, segments, activity windows, records by id), so
    one max_workers meant about three times as many threads."""
    threads: set[str] = set()
    live: dict[str, int] = {"now": 0, "peak": 0}
    lock = threading.Lock()
    send = requests.adapters.HTTPAdapter.send

    def counting_send(self: Any, request: Any, **kwargs: Any) -> Any:
        if "/_sandbox/" in request.url:
            return send(self, request, **kwargs)
        with lock:
            threads.add(threading.current_thread().name)
            made = [
                t
                for t in threading.enumerate()
                if t.name.startswith(("tap-intercom", "stream-")) and t.ident not in earlier
            ]
            live["peak"] = max(live["peak"], len(made))
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting_send)
    # Threads of earlier runs in this process (a pool's threads end once idle) are not this
    # run's.
    earlier = {t.ident for t in threading.enumerate()}
    run = run_tap(
        sandbox.base_url,
        catalog=catalog_selecting(STREAMS),
        start_date=START,
        max_workers=3,
        parallel_streams=4,
        user_ids=[],
    )
    assert run.records("users")
    pool = run.tap.run.pool
    allowed = re.compile(r"(tap-intercom-\d+|stream-[a-z_]+|tap-intercom-company-list|MainThread)$")
    assert all(allowed.match(name) for name in threads), sorted(threads)
    assert pool.peak_threads <= pool.ceiling
    # The tap's own threads: the pool, one per stream running, the company list.
    assert live["peak"] <= pool.peak_threads + 4 + 1


def test_the_pool_keeps_to_its_width_and_drops_queued_work_on_stop() -> None:
    width = {"n": 2}
    pool = RequestPool(lambda: width["n"], ceiling=4, name="test-pool")
    gate = threading.Event()
    running: list[int] = []
    lock = threading.Lock()

    def task(i: int) -> int:
        with lock:
            running.append(i)
        gate.wait(5)
        return i

    futures = [pool.submit(task, i) for i in range(6)]
    assert pool.threads == 2  # two at a time while the width is 2
    width["n"] = 9  # more than the ceiling: capped at 4
    futures += [pool.submit(task, i) for i in range(6, 8)]
    assert pool.threads == 4
    pool.stop()
    gate.set()
    done = [f for f in futures if f.exception() is None]
    assert {f.result() for f in done} == set(running)
    for f in futures:
        if f not in done:
            assert isinstance(f.exception(), PoolStopped)
    assert isinstance(pool.submit(task, 99).exception(), PoolStopped)
    pool.shutdown(wait=True)


def test_records_a_stopped_stream_buffered_reach_stdout_before_the_last_state() -> None:
    """A stream's records wait in its thread's buffer; its live state may already claim
    them. Stopped (another stream failed, or a signal), the stream must still write them
    before the whole state goes out, or that STATE claims records nobody received."""
    writer = BufferedMsgSpecWriter()
    out = io.BytesIO()
    wrapper = io.TextIOWrapper(out, encoding="utf-8")
    refused: list[BaseException] = []
    buffered = threading.Event()
    stopped = threading.Event()

    def stream_thread() -> None:
        for i in range(3):
            writer.write_message(RecordMessage(stream="users", record={"id": str(i)}))
        buffered.set()
        stopped.wait(5)
        try:
            writer.write_message(RecordMessage(stream="users", record={"id": "late"}))
        except Interrupted as e:
            refused.append(e)
        writer.flush_thread()  # what SideBySideSync.sync_one does as the stream ends

    with contextlib.redirect_stdout(wrapper):
        thread = threading.Thread(target=stream_thread)
        thread.start()
        buffered.wait(5)
        writer.stop_writes(15)
        stopped.set()
        thread.join(5)
        writer.write_message(StateMessage(value={"bookmarks": {"users": {"v": 3}}}))
        wrapper.flush()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert refused
    assert [m.get("record", {}).get("id") for m in lines] == ["0", "1", "2", None]
    assert lines[-1]["type"] == "STATE"


def test_a_failure_does_not_wait_on_a_stream_stuck_past_the_grace(
    sandbox: RunningSandbox, seeded: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream busy elsewhere (a request in its retries, a scroll waiting its turn) ends
    only at its next message: after a failure the run waited for it however long it took.
    Now it waits STOP_GRACE_SECONDS, then ends without another STATE (that stream's live
    state is not safe to write while it runs), naming the failure."""
    import tap_intercom.scheduler as scheduler
    from tap_intercom.streams import ConversationsStream, TicketsStream

    monkeypatch.setattr(scheduler, "STOP_GRACE_SECONDS", 0.5)
    release, entered = threading.Event(), threading.Event()

    def stuck(self: Any, context: Any) -> Any:
        entered.set()
        release.wait(30)
        return iter(())

    def broken(self: Any, context: Any) -> Any:
        entered.wait(10)  # tickets is stuck (past its SCHEMA) before this fails
        raise RuntimeError("conversations broke")

    monkeypatch.setattr(TicketsStream, "get_records", stuck)
    monkeypatch.setattr(ConversationsStream, "get_records", broken)
    try:
        with pytest.raises(SystemExit) as stop:
            run_tap(
                sandbox.base_url,
                catalog=catalog_selecting(["conversations", "tickets"]),
                start_date=START,
            )
        still_stuck = not release.is_set()
    finally:
        release.set()
    assert still_stuck
    assert stop.value.code == 1
    assert str(getattr(stop.value, "failure", None)) == "conversations broke"
