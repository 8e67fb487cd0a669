"""Probe, split and walk a range side by side; hand pages over as they arrive.

Every unit (a time slice, maybe an id part of one) is one cursor chain, sorted ascending on
the replication key. The reader runs on the stream's own thread and keeps every chain's
bookkeeping there: each request (one page of one chain) is a leaf task on the run's request
pool (``intercom_api.pool``), at most ``window`` of them in flight, and a chain asks for its
next page as soon as its current one arrives. No chain waits for another, nothing waits on
the pool from inside it (so the pool cannot deadlock, however many streams share it), and
memory is bounded by the pages in flight whatever the range. Given ``meta``/``parse``, pages
travel as raw bytes: the pool thread reads only what steers the walk (cursor, count, sort
keys) and the stream's thread parses and shapes records.

Records leave in no global order, but the reader keeps a *watermark*: a time at or before
which every record of the range has been handed over (the least progress of the open
chains). The stream saves that watermark as its bookmark, so state advances during the run
and an interrupted run resumes correctly.
"""

from __future__ import annotations

import logging
import queue
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from intercom_api import errors
from intercom_api.pagination import LoopGuard, next_cursor
from tap_intercom.planner import SplitPolicy, Unit

log = logging.getLogger("tap_intercom")

Record = dict[str, Any]
# A search page: parsed (a dict), or raw bytes the reader reads through ``meta`` on the pool
# thread and ``parse`` on the stream's thread (then records are shaped there too).
SearchPage = Callable[[Unit, "str | None"], "dict[str, Any] | bytes"]
Shape = Callable[[list[Record], Unit, set[str]], list[Record]]


class PageMeta(NamedTuple):
    """What steers a walk: size, cursor, and the sort-key values a page holds."""

    count: int
    total: int | None
    cursor: str | None
    stamps: list[int]


STEAL_MIN = 4 * 150  # records: below a few pages a new search costs more than it saves
# Ids a chain remembers to drop a record seen twice (an update moves it along the cursor);
# bounded, so memory stays flat whatever a chain's length. A rare repeat is harmless.
SEEN_MAX = 20_000


@dataclass(eq=False)
class _Chain:
    """One unit's walk (the stream's thread only)."""

    uid: int
    unit: Unit
    guard: LoopGuard
    emitted: int | None = None  # progress handed over and emitted (moves the watermark)
    read: int | None = None  # progress read (steers work stealing and the order check)
    probing: bool = True  # its first page (the probe) has not been taken yet
    done: bool = False  # its last page arrived
    seen: set[str] = field(default_factory=set)


@dataclass(eq=False)
class _PartsProbe:
    """A busy unit's id parts, probed side by side; its own probe page waits for them."""

    chain: _Chain
    page: dict[str, Any] | bytes
    meta: PageMeta
    total: int
    parts: list[Unit]
    answers: dict[int, Future[tuple[Any, PageMeta]]] = field(default_factory=dict)


class RangeReader:
    """Yields lists of shaped records for a range; ``watermark`` says how far it is complete.

    ``pool``: where requests run (the run's ``RequestPool``); None: a pool of ``workers``
    threads of the reader's own. ``workers``: the chains the planner aims at and the most
    requests kept in flight (a search is heavy for the API: more side by side mostly makes
    each slower; other streams fill the pool meanwhile). ``spare`` (if given): requests the
    pool could start now; an idle request slot is filled by splitting a chain only when
    there is one (other streams may keep the pool busy, and a new search costs the API more
    than a next page).
    """

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
        pool: Executor | None = None,
        spare: Callable[[], int] | None = None,
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
        self.pool = pool
        self._spare = spare
        self.on_expected = on_expected
        self.meta = meta
        self.parse = parse
        self._events: queue.SimpleQueue[tuple[str, Any, Future[tuple[Any, PageMeta]]]]
        self._events = queue.SimpleQueue()
        self._waiting: deque[tuple[str, Any, Unit, str | None]] = deque()
        self._inflight: set[Future[tuple[Any, PageMeta]]] = set()
        self._uids = 0
        # Open chains by id: the watermark is the least progress among them.
        self._open: dict[int, _Chain] = {}
        # Search pages come sorted ascending on ``field``: every walk checks it, and the first
        # page out of order turns it off for the whole range (see ``_out_of_order``).
        self.ordered = True
        self.expected: int | None = None  # records in the whole range, from the first probe
        self.units = 0  # chains walked
        self.probes = 0  # units split (their probe page was only used to decide that)

    # -- requests (leaf tasks on the pool) --------------------------------------------------
    def window(self) -> int:
        """Requests this reader keeps in flight at most."""
        return self.workers

    def _get(self, unit: Unit, cursor: str | None) -> tuple[Any, PageMeta]:
        """One page and what steers its walk (on a pool thread)."""
        page = self.search_page(unit, cursor)
        return page, self._meta(page)

    def _request(self, kind: str, key: Any, unit: Unit, cursor: str | None) -> None:
        self._waiting.append((kind, key, unit, cursor))
        self._pump()

    def _pump(self) -> None:
        assert self.pool is not None
        window = self.window()
        while self._waiting and len(self._inflight) < window:
            kind, key, unit, cursor = self._waiting.popleft()
            fut = self.pool.submit(self._get, unit, cursor)
            self._inflight.add(fut)
            fut.add_done_callback(lambda f, k=kind, c=key: self._events.put((k, c, f)))

    def _meta(self, page: dict[str, Any] | bytes) -> PageMeta:
        if isinstance(page, (bytes, bytearray)):
            assert self.meta is not None, "raw search pages need a meta reader"
            return self.meta(page)
        records = page.get(self.list_key) or []
        fld = self.field
        stamps = [r[fld] for r in records if isinstance(r.get(fld), int)]
        total = page.get("total_count")
        total = total if isinstance(total, int) else None
        return PageMeta(len(records), total, next_cursor(page), stamps)

    def _records(self, page: dict[str, Any] | bytes) -> list[Record]:
        if isinstance(page, (bytes, bytearray)):
            assert self.parse is not None, "raw search pages need a parser"
            return self.parse(page)
        return page.get(self.list_key) or []

    # -- chains -----------------------------------------------------------------------------
    def _open_chain(self, unit: Unit) -> _Chain:
        self._uids += 1
        chain = _Chain(self._uids, unit, LoopGuard("POST", self.path))
        self._open[chain.uid] = chain
        return chain

    def _start(self, unit: Unit) -> None:
        """Open a chain for ``unit`` and ask for its probe."""
        chain = self._open_chain(unit)
        self._request("page", chain, unit, None)

    def _on_probe(self, chain: _Chain, page: Any, meta: PageMeta) -> Iterator[list[Record]]:
        """A unit's first page: cut it if the policy says so, and walk (what is left of) it."""
        unit = chain.unit
        total = meta.total
        decision = None
        if total is not None:
            earliest = min(meta.stamps) if meta.stamps else None
            decision = self.policy.split(unit, total, earliest)
        if decision is not None and decision.replaced:
            # Probe every id part side by side; this page waits for their verdict.
            probe = _PartsProbe(chain, page, meta, total or 0, decision.spawn)
            for i, part in enumerate(decision.spawn):
                self._request("part", (probe, i), part, None)
            return
        yield from self._take_probe(chain, page, meta, decision)

    def _take_probe(
        self, chain: _Chain, page: Any, meta: PageMeta, decision: Any
    ) -> Iterator[list[Record]]:
        unit = chain.unit
        unit.total = meta.total
        if unit.depth == 0:
            self.expected = unit.total
            if self.on_expected is not None and unit.total:
                self.on_expected(unit.total)
        if decision is not None:
            self.probes += 1
            unit.hi = decision.keep_hi  # walk on, but only up to the first cut
            if unit.total is not None:
                unit.total //= len(decision.spawn) + 1
            for child in decision.spawn:
                self._start(child)
        yield from self._on_page(chain, page, meta)

    def _on_part(self, probe: _PartsProbe, i: int, fut: Future[Any]) -> Iterator[list[Record]]:
        """One id part's probe; once all are in, use the parts only if the API took them and
        they add up, else walk the unit whole."""
        probe.answers[i] = fut
        if len(probe.answers) < len(probe.parts):
            return
        answers = [probe.answers[k] for k in range(len(probe.parts))]
        failed = next((f.exception() for f in answers if f.exception() is not None), None)
        if failed is not None:
            if isinstance(failed, (errors.AuthenticationError, errors.ForbiddenError)):
                raise failed
            if not isinstance(failed, errors.IntercomError):
                raise failed
            # Refused (400), or failing (5xx past its retries): the day is read in one walk.
            log.info("cannot split a busy day by id suffix (%s); one walk", failed)
            yield from self._take_probe(probe.chain, probe.page, probe.meta, None)
            return
        pages = [f.result() for f in answers]
        counts = [meta.total for _, meta in pages]
        if sum(c for c in counts if c is not None) != probe.total:
            log.info("id-suffix parts do not add up (%s != %s); one walk", counts, probe.total)
            yield from self._take_probe(probe.chain, probe.page, probe.meta, None)
            return
        self.probes += 1
        del self._open[probe.chain.uid]  # replaced by its parts
        chains = []
        for part, (_, meta) in zip(probe.parts, pages, strict=True):
            part.total = meta.total
            chains.append(self._open_chain(part))
        for chain, (page, meta) in zip(chains, pages, strict=True):
            yield from self._on_page(chain, page, meta)  # a part's probe is its first page

    def _on_page(self, chain: _Chain, page: Any, meta: PageMeta) -> Iterator[list[Record]]:
        """Walk one page of a chain: ask for the next, then hand this one's records over."""
        unit = chain.unit
        if chain.probing:
            chain.probing = False
            self.units += 1
        if self.ordered and not _ascending(meta.stamps, chain.read):
            self._out_of_order(unit)
        progress = max(meta.stamps) if meta.stamps else None
        records: list[Record] = []
        if meta.count:
            unit.walked += meta.count
            if len(chain.seen) > SEEN_MAX:
                chain.seen.clear()
            records = self.shape(self._records(page), unit, chain.seen)
            if progress is not None and (chain.read is None or progress > chain.read):
                chain.read = progress
        stop = self.ordered and unit.hi is not None and progress is not None and progress >= unit.hi
        if meta.cursor is None or stop:
            chain.done = True  # sorted ascending: the rest belongs to the units cut off this one
        else:
            chain.guard.check(meta.cursor)
            self._request("page", chain, unit, meta.cursor)  # fetched while this one is emitted
        self._rebalance()
        if records:
            yield records
        # Only now, once the consumer asked for more (it has emitted every record of this
        # page), may the watermark count the page: a STATE written while the page was still
        # being emitted must not claim it (issue #10).
        if progress is not None and (chain.emitted is None or progress > chain.emitted):
            chain.emitted = progress
        if chain.done:
            del self._open[chain.uid]
            self._rebalance()

    def _out_of_order(self, unit: Unit) -> None:
        """Pages out of order: read every chain to its end (no early stop, no stealing) and
        hold the watermark at the start of every unfinished chain. Nothing is lost; the
        bookmark moves only as whole slices finish. Said once per range."""
        self.ordered = False
        log.warning(
            "search pages on %s came out of ascending order (slice from %s); reading every "
            "slice to its end, the bookmark moves only as whole slices finish",
            self.field,
            unit.start,
        )

    def _rebalance(self) -> None:
        """Fewer chains than requests in flight allowed: the biggest remaining chain gives
        half of what is left to new units (work stealing)."""
        if len(self._open) >= self.window() or not self.ordered:
            return  # a cut needs sorted pages: the chain must stop at it
        if self._spare is not None and self._spare() <= 0:
            return  # the pool is busy with other work: a new chain would only wait
        best: _Chain | None = None
        best_left = -1
        for chain in self._open.values():
            unit = chain.unit
            if chain.done or chain.probing or unit.part or unit.total is None or not unit.walked:
                continue
            # A size estimate can be off (a cut unit's share is a guess): a chain still
            # running past its estimate is assumed to hold a few more pages.
            left = unit.total - unit.walked
            if left <= 0:
                left = STEAL_MIN
            if left >= STEAL_MIN and left > best_left:
                best, best_left = chain, left
        if best is not None:
            self._give_away(best, self.policy.steal_cut(best.unit, best.read))

    def _give_away(self, chain: _Chain, cut: int | None) -> None:
        """Stop ``chain`` at ``cut`` and hand ``[cut, hi)`` to new units. A page of it still
        in flight may hold records past the cut: they are the new units' (``Unit.contains``)."""
        unit = chain.unit
        if cut is None or cut <= unit.start or (chain.read is not None and cut <= chain.read):
            return  # already past it: records beyond the cut were handed over
        if unit.hi is not None and cut >= unit.hi:
            return
        children = self.policy.rest(unit, cut, unit.hi)
        unit.hi = cut
        if unit.total is not None:
            unit.total = unit.walked + max(0, unit.total - unit.walked) // 2
        self.probes += 1
        for child in children:
            self._start(child)

    # -- the consumer -----------------------------------------------------------------------
    @property
    def watermark(self) -> int | None:
        """Every record of the range at or before this time has been yielded.

        None: the whole range is done and it had no end (the caller caps it).
        """
        if not self._open:
            return None if self.root.slc.end is None else self.root.slc.end - 1
        ordered = self.ordered
        marks = []
        for chain in self._open.values():
            floor = chain.unit.start - 1
            emitted = chain.emitted
            marks.append(floor if emitted is None or not ordered else max(floor, emitted - 1))
        return min(marks)

    def __iter__(self) -> Iterator[list[Record]]:
        own = self.pool is None
        if own:
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="tap-intercom")
        try:
            self._start(self.root)
            while self._open:
                kind, key, fut = self._events.get()
                self._inflight.discard(fut)
                self._pump()
                if kind == "part":
                    yield from self._on_part(key[0], key[1], fut)
                    continue
                page, meta = fut.result()  # a failed request fails the range here
                chain: _Chain = key
                if chain.probing:
                    yield from self._on_probe(chain, page, meta)
                else:
                    yield from self._on_page(chain, page, meta)
        finally:
            for fut in self._inflight:
                fut.cancel()  # not started yet: never sent
            self._waiting.clear()
            if own:
                assert self.pool is not None
                self.pool.shutdown(wait=True, cancel_futures=True)
                self.pool = None


def _ascending(stamps: list[int], after: int | None) -> bool:
    """Sort keys in ascending order, none before the chain's last page."""
    prev = after
    for ts in stamps:
        if prev is not None and ts < prev:
            return False
        prev = ts
    return True
