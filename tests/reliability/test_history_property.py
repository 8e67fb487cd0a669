"""One property over all of it: whatever the workspace's history, nothing is missed.

Hypothesis draws a history: the workspace's timezone, contacts and conversations written
before a first run (some right at day boundaries), writes made *during* the run, search lag,
faults of every kind the sandbox injects, and a kill right after a random STATE of the first
run. Then the tap resumes from that STATE, and once more after the lag has passed. The union
of what the runs emitted must hold every live contact and conversation of the sandbox at its
latest ``updated_at`` (the ground truth), and every STATE must only claim what was emitted.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from reliability_support import CANARY, Output, fast_rate_windows, run_tap

from intercom_api import IntercomClient
from intercom_sandbox.server import RunningSandbox, start
from tap_intercom.client import IntercomStream

STREAMS = ("users", "leads", "conversations")
DAY = 86_400
MARGIN = 120
LAG = 60
# The day of the first run: just after a DST change in Los Angeles (2026-03-08); its hour
# is drawn, since how a local day and a UTC day overlap depends on it.
DAY0 = int(dt.datetime(2026, 3, 9, tzinfo=dt.timezone.utc).timestamp())
T0 = DAY0 + 12 * 3600
FAULT_KINDS = ("500", "502", "503", "429", "drop", "truncate")


@pytest.fixture(scope="module")
def sbx() -> Iterator[RunningSandbox]:
    sandbox = start(tokens=[CANARY], random_seed=17, clock_start=T0)
    try:
        yield sandbox
    finally:
        sandbox.stop()


class History:
    """Writes to the sandbox's backend at chosen times (in-process: cheap per example)."""

    def __init__(self, sandbox: RunningSandbox, rng: random.Random) -> None:
        self.b = sandbox.backend
        self.rng = rng
        self.contacts: list[str] = []
        self.convs: list[dict[str, Any]] = []
        self.n = 0

    def at(self, ts: int) -> None:
        self.b.clock.set(ts, frozen=True)

    def write(self, ts: int) -> None:
        """One write at ``ts``: a new contact, a contact update, or conversation activity."""
        self.n += 1
        with self.b.lock:
            self.at(ts)
            kind = self.rng.random()
            if kind < 0.35 or not self.contacts:
                role = self.rng.choice(["user", "lead"])
                c = self.b.contacts.create({"role": role, "email": f"h{self.n}@hist.example"})
                self.contacts.append(c["id"])
            elif kind < 0.6:
                cid = self.rng.choice(self.contacts)
                if self.b.contacts.get(cid) is not None:
                    self.b.contacts.update(cid, {"name": f"name {self.n}"})
            elif kind < 0.8 or not self.convs:
                contact = self.b.contacts.get(self.rng.choice(self.contacts))
                if contact is not None:
                    convs = self.b.conversations
                    author = convs.author_for_contact(contact)
                    self.convs.append(
                        convs.create(author=author, contact_ids=[contact["id"]], body="hi")
                    )
            else:
                conv = self.rng.choice(self.convs)
                admin = self.b.workspace.owner
                author = self.b.conversations.author_for_admin(admin)
                self.b.conversations.add_part(conv, part_type="comment", author=author, body="ok")


def truth(sandbox: RunningSandbox) -> dict[str, dict[str, int]]:
    """Every live object of the three streams: id -> updated_at."""
    b = sandbox.backend
    out: dict[str, dict[str, int]] = {s: {} for s in STREAMS}
    with b.lock:
        for c in b.contacts.all_live():
            out["users" if c["role"] == "user" else "leads"][c["id"]] = c["updated_at"]
        for conv in b.conversations.by_id.values():
            out["conversations"][str(conv["id"])] = conv["updated_at"]
    return out


def emitted(messages: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {s: set() for s in STREAMS}
    for m in messages:
        if m.get("type") == "RECORD" and m["stream"] in out:
            out[m["stream"]].add((str(m["record"]["id"]), m["record"]["updated_at"]))
    return out


def iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat()


@settings(
    max_examples=12,
    derandomize=True,  # the same histories on every run: CI neither flakes nor drifts
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(["UTC", "America/Los_Angeles", "Asia/Tokyo"]),
    seed=st.integers(0, 2**16),
    before=st.integers(20, 160),
    during=st.integers(0, 6),
    lag=st.booleans(),
    fault=st.sampled_from((None, *FAULT_KINDS)),
    kill_at=st.floats(0.0, 1.0),
    workers=st.sampled_from([1, 4]),
    minute=st.integers(0, 24 * 60 - 1),
)
# A first run at 03:00Z on a Los Angeles workspace (still the day before, there), killed
# after its first STATE, writes during it: the day-boundary case the sandbox once hid.
@example(
    zone="America/Los_Angeles",
    seed=1,
    before=60,
    during=4,
    lag=False,
    fault=None,
    kill_at=0.0,
    workers=1,
    minute=3 * 60,
)
def test_the_union_of_runs_is_the_ground_truth(
    sbx: RunningSandbox,
    monkeypatch: pytest.MonkeyPatch,
    zone: str,
    seed: int,
    before: int,
    during: int,
    lag: bool,
    fault: str | None,
    kill_at: float,
    workers: int,
    minute: int,
) -> None:
    t0 = DAY0 + 60 * minute
    fast_rate_windows(monkeypatch)
    monkeypatch.setattr(IntercomClient, "_backoff", lambda self, attempt, failure: 0.005)
    monkeypatch.setattr(IntercomStream, "STATE_MSG_FREQUENCY", 25)
    monkeypatch.setattr("tap_intercom.search.STATE_FLUSH_RECORDS", 5)
    backend = sbx.backend
    backend.reset()
    backend.settings.set("timezone", zone)
    sbx.app.faults.clear()
    sbx.app.faults.configure({"rates": {fault: 0.05}} if fault else {})
    backend.search_lag_seconds = LAG if lag else 0
    rng = random.Random(seed)
    hist = History(sbx, rng)
    tz = ZoneInfo(zone)
    # Writes over four days, a third of them within a second of a local or UTC midnight.
    base_day = dt.datetime.fromtimestamp(t0 - 4 * DAY, tz).date()
    times = []
    for _ in range(before):
        day = base_day + dt.timedelta(days=rng.randrange(4))
        local = int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp())
        utc = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp())
        pick = rng.random()
        if pick < 0.33:
            times.append(rng.choice([local, utc]) + rng.choice([-1, 0, 1]))
        else:
            times.append(local + rng.randrange(DAY))
    for ts in sorted(t for t in times if t < t0):
        hist.write(ts)
    hist.at(t0)

    # Writes during the first run: at its k-th search pages, a few seconds later each.
    now = {"t": t0}
    pending = sorted(rng.sample(range(1, 12), min(during, 11)))
    calls = {"n": 0}
    original = IntercomClient.search_raw

    def search_and_write(self: IntercomClient, *args: Any, **kwargs: Any) -> bytes:
        calls["n"] += 1
        while pending and pending[0] <= calls["n"]:
            pending.pop(0)
            now["t"] += rng.randint(1, 5)
            hist.write(now["t"])
        return original(self, *args, **kwargs)

    config = {"max_workers": workers, "search_lag_margin_seconds": MARGIN}
    monkeypatch.setattr(IntercomClient, "search_raw", search_and_write)
    first = run_tap(sbx.base_url, **config)
    monkeypatch.setattr(IntercomClient, "search_raw", original)

    # The kill: right after a STATE drawn among all the first run's STATEs.
    points = [i for i, m in enumerate(first.messages) if m.get("type") == "STATE"]
    cut = points[min(len(points) - 1, int(kill_at * len(points)))]
    kept = first.messages[: cut + 1]
    state = kept[-1]["value"]

    hist.at(now["t"] + 30)
    second = run_tap(sbx.base_url, state=state, **config)
    hist.at(now["t"] + 30 + LAG + MARGIN + 5)  # every write indexed, past the margin
    sbx.app.faults.clear()
    third = run_tap(sbx.base_url, state=second.last_state, **config)

    got = emitted(kept)
    for run in (second, third):
        for stream, items in emitted(run.messages).items():
            got[stream] |= items
    want = truth(sbx)
    for stream in STREAMS:
        missing = {(i, iso(ts)) for i, ts in want[stream].items()} - got[stream]
        assert not missing, (
            f"{stream}: {len(missing)} of {len(want[stream])} not emitted at their latest "
            f"updated_at (zone {zone}, fault {fault}, lag {lag}); e.g. {sorted(missing)[:3]}"
        )
    for run in (Output(kept), second, third):
        check_states_claim_only_what_was_emitted(run.messages)


def check_states_claim_only_what_was_emitted(messages: list[dict[str, Any]]) -> None:
    """A bookmark never passes a record of the same run emitted after it (sorted input)."""
    last_state: dict[str, str] = {}
    for m in messages:
        if m.get("type") == "STATE":
            for stream, bm in m["value"].get("bookmarks", {}).items():
                if isinstance(bm, dict) and bm.get("replication_key_value"):
                    last_state[stream] = bm["replication_key_value"]
        elif m.get("type") == "RECORD" and m["stream"] in last_state:
            value = m["record"].get("updated_at")
            mark = last_state[m["stream"]]
            # A record at or before the bookmark, emitted after it, would be lost by a kill
            # right after that STATE unless an earlier record covered it.
            assert value is None or value > mark, (m["stream"], value, mark)
