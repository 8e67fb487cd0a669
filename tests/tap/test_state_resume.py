"""Every STATE the tap emits is a safe point to resume from.

A full sync runs with a low STATE frequency. For EVERY STATE it emits (not a sample), a run
killed right after that STATE is modelled exactly: the output up to and including that STATE
is what the kill leaves (the tap flushes stdout after every non-RECORD message), and a new run
resumes from that STATE. Together they must emit exactly the ids of a clean sync, for every
incremental stream. A cheaper invariant is checked on the same STATEs: every record whose
replication key is at or before a STATE's bookmark was emitted before that STATE.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tap_support import D0, TapRun, catalog_selecting, run_tap

from intercom_sandbox.server import RunningSandbox, start
from tap_intercom.client import IntercomStream

TOKEN = "sandbox-token"
STREAMS = ("users", "leads", "conversations", "conversation_parts", "tickets")
KEYS = {"conversation_parts": "conversation_updated_at"}


def records(messages: list[dict[str, Any]]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stream, key, record) of every record of STREAMS; a part's key holds its conversation."""
    for m in messages:
        if m["type"] == "RECORD" and m["stream"] in STREAMS:
            rec = m["record"]
            part = m["stream"] == "conversation_parts"
            yield m["stream"], f"{rec['conversation_id']}/{rec['id']}" if part else rec["id"], rec


def ids_by_stream(messages: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {s: set() for s in STREAMS}
    for stream, key, _ in records(messages):
        out[stream].add(key)
    return out


@pytest.fixture(scope="module")
def world() -> Iterator[RunningSandbox]:
    sbx = start(tokens=[TOKEN], random_seed=3, clock_start=D0)
    try:
        import requests

        base = sbx.base_url
        requests.post(
            f"{base}/_sandbox/seed",
            json={"users": 900, "leads": 300, "conversations": 120, "tickets": 150},
            timeout=60,
        ).raise_for_status()
        yield sbx
    finally:
        sbx.stop()


def sync(sbx: RunningSandbox, state: dict[str, Any] | None = None, **config: Any) -> TapRun:
    return run_tap(
        sbx.base_url,
        state=state,
        catalog=catalog_selecting(STREAMS),
        start_date="2015-01-01T00:00:00Z",
        **config,
    )


@pytest.mark.parametrize("workers", [1, 4])
def test_every_state_is_a_safe_resume_point(
    world: RunningSandbox, workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(IntercomStream, "STATE_MSG_FREQUENCY", 60)
    monkeypatch.setattr("tap_intercom.search.STATE_FLUSH_RECORDS", 7)
    clean = sync(world, max_workers=workers)
    want = ids_by_stream(clean.messages)
    assert all(want[s] for s in STREAMS), {s: len(v) for s, v in want.items()}
    # The replication key of every record, to check bookmarks against.
    stamps: dict[str, dict[str, str]] = {s: {} for s in STREAMS}
    for stream, key, rec in records(clean.messages):
        stamps[stream][key] = rec[KEYS.get(stream, "updated_at")]

    state_points = [i for i, m in enumerate(clean.messages) if m["type"] == "STATE"]
    assert len(state_points) >= 10
    for i in state_points:
        before = clean.messages[: i + 1]
        state = clean.messages[i]["value"]
        emitted = ids_by_stream(before)
        # The invariant: a bookmark claims only records already emitted.
        for stream in STREAMS:
            mark = state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")
            if mark is None:
                continue
            claimed = {rid for rid, ts in stamps[stream].items() if ts <= mark}
            missing = claimed - emitted[stream]
            assert not missing, (
                f"STATE #{i} claims {stream} up to {mark} but {len(missing)} records at or "
                f"before it were not emitted yet (e.g. {sorted(missing)[:3]})"
            )
        resumed = ids_by_stream(sync(world, state=state, max_workers=workers).messages)
        for stream in STREAMS:
            union = emitted[stream] | resumed[stream]
            assert union == want[stream], (
                f"killed after STATE #{i}: {stream} lost {len(want[stream] - union)} records"
            )
