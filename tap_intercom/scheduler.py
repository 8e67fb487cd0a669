"""Streams side by side: the tap's sync loop.

The SDK syncs streams one after another, so the rate budget idles while a stream starts (its
first probes) and while it winds down (its last pages, a fan-out's tail). Here up to
``parallel_streams`` streams run at once, each on a thread of its own; every request they
make side by side runs on the run's one request pool under the one rate limiter, so they
share one budget and one ``max_workers``.

- Valid Singer: each stream writes its SCHEMA before its records, on its own thread, and
  the writer takes one whole message at a time (``sdk_hooks.BufferedMsgSpecWriter``).
- Every STATE is a safe resume point: a stream's part of any STATE is what it held at its
  own last STATE (``sdk_hooks.StreamStateWriter``).
- Order where it matters: a stream that reads what another leaves behind (``runs_after``:
  company_segments reuses the companies scroll) starts once that one has ended.
- A failing stream stops the others (their next message raises, queued requests are
  dropped), and its error is raised once they have ended; a stop signal does the same.
  Threads still busy after ``STOP_GRACE_SECONDS`` (a request in its retries, a scroll
  waiting its turn) are left behind: the run ends without another STATE (the live state of
  a stream still running is not safe to write), and the STATEs already written stand.
- Memory stays flat: a stream holds only the pages it has in flight.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from intercom_api.pool import PoolStopped
from tap_intercom.sdk_hooks import Interrupted

log = logging.getLogger("tap_intercom")

STOP_GRACE_SECONDS = 20.0


class Schedulable(Protocol):
    name: str


class LeftBehind(SystemExit):
    """Streams were still busy after the grace period: exit without another STATE."""


class FailedLeftBehind(LeftBehind):
    """A stream failed and others were still busy after the grace period."""

    def __init__(self, failure: BaseException) -> None:
        super().__init__(1)
        self.failure = failure


def run_side_by_side(
    streams: Sequence[Schedulable],
    *,
    width: int,
    sync_one: Callable[[Schedulable], None],
    on_stop: Callable[[int], None],
) -> None:
    """``sync_one`` for every stream, at most ``width`` at once, each after the streams of
    this run it ``runs_after``. Returns when all have ended; raises the first failure, or
    ``Interrupted`` for a stop signal, once the others have ended (or ``LeftBehind``)."""
    names = {s.name for s in streams}
    waiting = list(streams)
    running: set[str] = set()
    ended: queue.SimpleQueue[tuple[str, BaseException | None]] = queue.SimpleQueue()
    failure: BaseException | None = None

    def body(stream: Schedulable) -> None:
        try:
            sync_one(stream)
        except BaseException as e:  # handed to the main thread
            ended.put((stream.name, e))
        else:
            ended.put((stream.name, None))

    def start_ready() -> None:
        for stream in list(waiting):
            if len(running) >= max(1, width):
                return
            before = set(getattr(stream, "runs_after", ())) & names
            if before & (running | {s.name for s in waiting}):
                continue  # waits for a stream of this run it reads after
            waiting.remove(stream)
            running.add(stream.name)
            threading.Thread(
                target=body, args=(stream,), name=f"stream-{stream.name}", daemon=True
            ).start()
        if waiting and not running:
            raise RuntimeError(f"streams wait on each other: {[s.name for s in waiting]}")

    try:
        start_ready()
        while running:
            try:
                name, error = ended.get(timeout=0.5)
            except queue.Empty:
                continue
            running.discard(name)
            stopped = isinstance(error, (Interrupted, PoolStopped))
            if error is not None and not stopped and failure is None:
                failure = error
                log.info("stream %s failed; stopping the others (the error follows)", name)
                waiting.clear()
                on_stop(0)
                try:
                    _wait_out(running, ended, 0)
                except LeftBehind:
                    log.error("stream %s failed: %s", name, failure)
                    raise FailedLeftBehind(failure) from failure
            if failure is None:
                start_ready()
    except Interrupted as signal:
        waiting.clear()
        on_stop(signal.signum)
        _wait_out(running, ended, signal.signum)
        raise
    if failure is not None:
        raise failure


def _wait_out(
    running: set[str], ended: queue.SimpleQueue[tuple[str, BaseException | None]], signum: int
) -> None:
    """Wait for the stopped streams' threads to end (each ends at its next message)."""
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    try:
        while running and time.monotonic() < deadline:
            try:
                name, _ = ended.get(timeout=0.2)
            except queue.Empty:
                continue
            running.discard(name)
    except Interrupted:
        pass  # a (second) signal: do not wait any longer
    if running:
        log.warning(
            "streams %s were still busy when the run stopped; the last STATE written stands",
            sorted(running),
        )
        raise LeftBehind(128 + signum if signum else 1)
