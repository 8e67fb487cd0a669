"""Probe, split and walk a range on worker threads; hand pages over as they arrive.

Every unit (a time slice, maybe an id part of one) is one cursor chain, sorted ascending on
the replication key. Chains run concurrently and their pages reach the consumer (the SDK's
main thread) as they come, through one bounded queue: no chain waits for another, and memory
is bounded by that queue whatever the range. Given ``meta``/``parse``, pages travel as raw
bytes: workers only read what steers the walk (cursor, count, sort keys) and the consumer
parses and shapes records, so CPU work is not spread over threads fighting for the GIL.

Records leave in no global order, but the reader keeps a *watermark*: a time at or before
which every record of the range has been handed over (the least progress of the open
chains). The stream saves that watermark as its bookmark, so state advances during the run
and an interrupted run resumes correctly.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from intercom_api import errors
from intercom_api.pagination import LoopGuard, next_cursor
from tap_intercom.planner import SplitPolicy, Unit

log = logging.getLogger("tap_intercom")

Record = dict[str, Any]
# A search page: parsed (a dict), or raw bytes the reader reads through ``meta`` on the worker
# and ``parse`` on the consumer (then records are shaped on the consumer thread).
SearchPage = Callable[[Unit, "str | None"], "dict[str, Any] | bytes"]
Shape = Callable[[list[Record], Unit, set[str]], list[Record]]


class PageMeta(NamedTuple):
    """What a worker needs from a page: size, cursor, and the sort-key values it holds."""

    count: int
    total: int | None
    cursor: str | None
    stamps: list[int]


STEAL_MIN = 4 * 150  # records: below a few pages a new search costs more than it saves
# Ids a chain remembers to drop a record seen twice (an update moves it along the cursor);
# bounded, so memory stays flat whatever a chain's length. A rare repeat is harmless.
SEEN_MAX = 20_000


class _Stopped(Exception):
    """The consumer went away; the producer stops quietly."""


class RangeReader:
    """Yields lists of shaped records for a range; ``watermark`` says how far it is complete."""

    def __init__(
        self,
        root: Unit,
        *,
        search_page: SearchPage,
        shape: Shape,
        policy: SplitPolicy,
        field: str,
        list_key: str,
        workers: int,
        queue_pages: int | None = None,
        on_expected: Callable[[int], None] | None = None,
        meta: Callable[[bytes], PageMeta] | None = None,
        parse: Callable[[bytes], list[Record]] | None = None,
        path: str = "search",
    ) -> None:
        self.root = root
        self.path = path  # for errors: the search endpoint walked
        self.search_page = search_page
        self.shape = shape
        self.policy = policy
        self.field = field
        self.list_key = list_key
        self.workers = max(1, workers)
        self.on_expected = on_expected
        self.meta = meta
        self.parse = parse
        self._events: queue.Queue[tuple[Any, ...]] = queue.Queue(queue_pages or 2 * self.workers)
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        # Consumer-side bookkeeping (main thread only): open unit id -> [unit, progress
        # emitted, progress read], and for raw pages, the ids each unit handed over.
        self._open: dict[int, list[Any]] = {}
        self._seen: dict[int, set[str]] = {}
        # Search pages come sorted ascending on ``field``: every walk checks it, and the first
        # page out of order turns it off for the whole range (see ``_check_order``).
        self.ordered = True
        self._order_logged = False
        self.expected: int | None = None  # records in the whole range, from the first probe
        self.units = 0  # chains walked
        self.probes = 0  # units split (their probe page was only used to decide that)

    # -- producer side (worker threads) -----------------------------------------------------
    def _new_id(self) -> int:
        with self._ids_lock:
            return next(self._ids)

    def _count_split(self) -> None:
        with self._ids_lock:
            self.probes += 1

    def _put(self, event: tuple[Any, ...]) -> None:
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                self._events.put(event, timeout=0.2)
                return
            except queue.Full:
                continue

    def _submit(self, fn: Callable[..., None], *args: Any) -> None:
        assert self._pool is not None
        self._pool.submit(self._guard, fn, args[0], *args)

    def _guard(self, fn: Callable[..., None], uid: int, *args: Any) -> None:
        try:
            fn(*args)
        except _Stopped:
            pass
        except BaseException as e:  # raised again in the main thread
            with contextlib.suppress(_Stopped):
                self._put(("error", uid, e))

    def _info(self, page: dict[str, Any] | bytes) -> tuple[list[Record] | None, PageMeta]:
        """(records if parsed here, meta) of a page."""
        if isinstance(page, (bytes, bytearray)):
            assert self.meta is not None, "raw search pages need a meta reader"
            return None, self.meta(page)
        records = page.get(self.list_key) or []
        field = self.field
        stamps = [r[field] for r in records if isinstance(r.get(field), int)]
        total = page.get("total_count")
        meta = PageMeta(len(records), total if isinstance(total, int) else None, None, stamps)
        return records, meta._replace(cursor=next_cursor(page))

    def _run(self, uid: int, unit: Unit) -> None:
        """Probe a unit, cut it if the policy says so, and walk (what is left of) it."""
        page = self.search_page(unit, None)
        _, meta = self._info(page)
        total = meta.total
        decision = None
        if isinstance(total, int):
            earliest = min(meta.stamps) if meta.stamps else None
            decision = self.policy.split(unit, total, earliest)
        if decision is not None and decision.replaced:
            if self._run_parts(uid, total, decision.spawn):  # type: ignore[arg-type]
                return
            decision = None
        unit.total = total if isinstance(total, int) else None
        if unit.depth == 0:
            self.expected = unit.total
            if self.on_expected is not None and unit.total:
                self.on_expected(unit.total)
        if decision is not None:
            self._count_split()
            unit.hi = decision.keep_hi  # walk on, but only up to the first cut
            if unit.total is not None:
                unit.total //= len(decision.spawn) + 1
            ids = [(self._new_id(), c) for c in decision.spawn]
            self._put(("spawn", uid, ids))
            for cid, child in ids:
                self._submit(self._run, cid, child)
        self._walk(uid, unit, page)

    def _run_parts(self, uid: int, total: int, parts: list[Unit]) -> bool:
        """Probe every id part; use them only if the API takes them and they add up."""
        try:
            # Probed side by side, on a pool of their own (the main pool may be all busy).
            with ThreadPoolExecutor(len(parts), thread_name_prefix="tap-intercom-parts") as pool:
                pages = list(pool.map(lambda p: self.search_page(p, None), parts))
        except (errors.AuthenticationError, errors.ForbiddenError):
            raise
        except errors.IntercomError as e:
            # Refused (400), or failing (5xx past its retries): the day is read in one walk.
            log.info("cannot split a busy day by id suffix (%s); one walk", e)
            return False
        counts = [self._info(p)[1].total for p in pages]
        if sum(c for c in counts if isinstance(c, int)) != total:
            log.info("id-suffix parts do not add up (%s != %s); one walk", counts, total)
            return False
        self._count_split()
        ids = [(self._new_id(), p) for p in parts]
        for part, count in zip(parts, counts, strict=True):
            part.total = count
        self._put(("split", uid, ids))
        for (cid, part), first in zip(ids, pages, strict=True):
            self._submit(self._walk, cid, part, first)
        return True

    def _walk(self, uid: int, unit: Unit, page: dict[str, Any] | bytes) -> None:
        """Hand over a unit's pages, starting from its first (already fetched) one."""
        with self._ids_lock:
            self.units += 1
        seen: set[str] = set()
        guard = LoopGuard("POST", self.path)
        walked_to: int | None = None
        while True:
            records, meta = self._info(page)
            if self.ordered and not _ascending(meta.stamps, walked_to):
                self._out_of_order(unit)
            if unit.steal is not None:
                self._give_away(uid, unit, walked_to)
            progress = None
            if meta.count:
                unit.walked += meta.count
                progress = max(meta.stamps) if meta.stamps else None
                if records is None:  # raw: parsed and shaped by the consumer
                    self._put(("raw", uid, page, progress))
                else:
                    if len(seen) > SEEN_MAX:
                        seen.clear()
                    self._put(("page", uid, self.shape(records, unit, seen), progress))
                if progress is not None:
                    walked_to = progress if walked_to is None else max(walked_to, progress)
            cursor = meta.cursor
            if cursor is None:
                break
            stop = unit.hi is not None and progress is not None and progress >= unit.hi
            if stop and self.ordered:
                break  # sorted ascending: the rest belongs to the units cut off this one
            guard.check(cursor)
            page = self.search_page(unit, cursor)
        self._put(("done", uid))

    def _out_of_order(self, unit: Unit) -> None:
        """Pages out of order: read every chain to its end (no early stop, no stealing) and
        hold the watermark at the start of every unfinished chain. Nothing is lost; the
        bookmark moves only as whole slices finish. Said once per range."""
        self.ordered = False
        with self._ids_lock:
            if self._order_logged:
                return
            self._order_logged = True
        log.warning(
            "search pages on %s came out of ascending order (slice from %s); reading every "
            "slice to its end, the bookmark moves only as whole slices finish",
            self.field,
            unit.start,
        )

    def _give_away(self, uid: int, unit: Unit, walked_to: int | None) -> None:
        """Take up a requested cut: stop at it, and hand ``[cut, hi)`` to a new unit."""
        cut, unit.steal = unit.steal, None
        if cut is None or cut <= unit.start or (walked_to is not None and cut <= walked_to):
            return  # already past it: records beyond the cut were handed over
        if unit.hi is not None and cut >= unit.hi:
            return
        children = self.policy.rest(unit, cut, unit.hi)
        unit.hi = cut
        if unit.total is not None:
            unit.total = unit.walked + max(0, unit.total - unit.walked) // 2
        self._count_split()
        ids = [(self._new_id(), c) for c in children]
        self._put(("spawn", uid, ids))
        for cid, child in ids:
            self._submit(self._run, cid, child)

    # -- consumer side (main thread) --------------------------------------------------------
    def _rebalance(self) -> None:
        """Fewer chains than workers: ask the biggest remaining chain to give half away."""
        if len(self._open) >= self.workers or not self.ordered:
            return  # a cut needs sorted pages: the chain must stop at it
        best: Unit | None = None
        best_left = -1
        best_progress: int | None = None
        for unit, _, progress in self._open.values():
            if unit.part or unit.total is None or unit.steal is not None or not unit.walked:
                continue
            # A size estimate can be off (a cut unit's share is a guess): a chain still
            # running past its estimate is assumed to hold a few more pages.
            left = unit.total - unit.walked
            if left <= 0:
                left = STEAL_MIN
            if left >= STEAL_MIN and left > best_left:
                best, best_left, best_progress = unit, left, progress
        if best is not None:
            best.steal = self.policy.steal_cut(best, best_progress)

    @property
    def watermark(self) -> int | None:
        """Every record of the range at or before this time has been yielded.

        None: the whole range is done and it had no end (the caller caps it).
        """
        if not self._open:
            return None if self.root.slc.end is None else self.root.slc.end - 1
        marks = []
        ordered = self.ordered
        for unit, progress, _ in self._open.values():
            floor = unit.start - 1
            marks.append(floor if progress is None or not ordered else max(floor, progress - 1))
        return min(marks)

    def __iter__(self) -> Iterator[list[Record]]:
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="tap-intercom")
        root_id = self._new_id()
        self._open = {root_id: [self.root, None, None]}
        try:
            self._submit(self._run, root_id, self.root)
            while self._open:
                event = self._events.get()
                kind, uid = event[0], event[1]
                if kind in ("page", "raw"):
                    _, _, records, progress = event
                    entry = self._open[uid]
                    if kind == "raw":
                        assert self.parse is not None, "raw search pages need a parser"
                        seen = self._seen.setdefault(uid, set())
                        if len(seen) > SEEN_MAX:
                            seen.clear()
                        records = self.shape(self.parse(records), entry[0], seen)
                    if progress is not None and (entry[2] is None or progress > entry[2]):
                        entry[2] = progress  # read (steers work stealing), not yet emitted
                    if len(self._open) < self.workers:
                        self._rebalance()
                    if records:
                        yield records
                    # Only now, once the consumer asked for more (it has emitted every record
                    # of this page), may the watermark count the page: a STATE written while
                    # the page was still being emitted must not claim it (issue #10).
                    if progress is not None and (entry[1] is None or progress > entry[1]):
                        entry[1] = progress
                elif kind == "done":
                    del self._open[uid]
                    self._seen.pop(uid, None)
                    self._rebalance()
                elif kind in ("split", "spawn"):
                    if kind == "split":  # replaced by its children
                        del self._open[uid]
                        self._seen.pop(uid, None)
                    for cid, child in event[2]:
                        self._open[cid] = [child, None, None]
                    self._rebalance()
                else:
                    raise event[2]
        finally:
            self._stop.set()
            self._pool.shutdown(wait=True, cancel_futures=True)


def _ascending(stamps: list[int], after: int | None) -> bool:
    """Sort keys in ascending order, none before the chain's last page."""
    prev = after
    for ts in stamps:
        if prev is not None and ts < prev:
            return False
        prev = ts
    return True
