"""Where to cut a sync's time range, decided from what each search says it holds.

A unit's first page (its probe) gives its size (``total_count``). Too big for one chain, its
range is cut in time: the unit keeps walking its own search but stops at the first cut (its
search is sorted ascending, so the first piece costs no new query), and each further piece
becomes a new unit, probed in turn. A heavy unit that cannot be cut in time (one day of
contacts, FACTS.md §2.6) is replaced by parts by id suffix. Every new search the API must
evaluate from scratch costs far more than a next page, so the planner aims at few chains:
about ``workers`` of them, more only where the data is dense. When workers fall idle, the
reader asks the longest chain to give half of what is left away (``steal_cut`` / ``rest``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from tap_intercom.slicing import DayCalendar, Filters, TimeSlice, id_suffix_parts, plan_slices

SEQUENTIAL_MAX = 600  # 4 pages: a range this small is walked as it is
# About one chain per worker, each at least 15 pages: on the sandbox (and on Intercom, at a
# guess) a new search costs far more than a next page. Idle workers then steal (reader.py).
MIN_RECORDS_PER_CHAIN = 2250
PIECES_PER_WORKER = 1
HEAVY = 2  # a probed slice this many times the target is cut again
MAX_ID_PARTS = 16
ID_PART_MIN = 1500  # records: smaller parts would cost more searches than they save


@dataclass
class Unit:
    """One search walked as one cursor chain: records in ``[start, hi)`` of its time slice.

    ``hi`` starts as the slice's end and only moves down, when the unit is cut; ``part``
    narrows the search to an id-suffix part of the slice.
    """

    slc: TimeSlice
    part: Filters = ()
    depth: int = 0
    hi: int | None = field(default=None)
    # Size estimate and records walked so far (the reader's bookkeeping).
    total: int | None = None
    walked: int = 0
    # The rest of a busy day handed over mid-day: to be read as id parts (see steal_cut).
    want_parts: bool = False

    def __post_init__(self) -> None:
        if self.hi is None:
            self.hi = self.slc.end

    @property
    def start(self) -> int:
        return self.slc.start

    def contains(self, ts: int) -> bool:
        return ts >= self.slc.start and (self.hi is None or ts < self.hi)


@dataclass
class Split:
    """A decision: the unit walks on up to ``keep_hi`` and ``spawn`` start; or it is
    ``replaced`` by ``spawn`` (id parts)."""

    spawn: list[Unit]
    keep_hi: int | None = None
    replaced: bool = False


class SplitPolicy:
    """Decides, from a probe, whether a unit is walked whole or cut (and how)."""

    def __init__(self, *, field: str, calendar: DayCalendar | None, workers: int, now: int) -> None:
        self.field = field
        self.calendar = calendar
        self.workers = max(1, workers)
        self.now = now
        self.target = 0  # records per chain, set from the root's size

    def split(self, unit: Unit, total: int, earliest: int | None) -> Split | None:
        """How to cut ``unit`` given its probe, or None to walk it whole."""
        if unit.part:
            return None  # id parts are final
        if unit.want_parts:
            return self._id_parts(unit, total)
        if unit.depth == 0:
            if total <= SEQUENTIAL_MAX or self.workers == 1:
                return None
            self.target = max(
                MIN_RECORDS_PER_CHAIN, math.ceil(total / (PIECES_PER_WORKER * self.workers))
            )
            pieces = math.ceil(total / self.target)
        else:
            if not self.target or total <= HEAVY * self.target:
                return None  # the root was walked whole (no target), or this is light
            pieces = math.ceil(total / self.target)
        if pieces < 2:
            return None
        # Cut from the earliest record the probe saw (sorted ascending), not from a start
        # date years before the data: empty slices would cost a search each.
        start = unit.start if earliest is None else max(unit.start, earliest)
        if unit.hi is not None and start >= unit.hi:
            return None
        subs = plan_slices(self.field, start, unit.hi, self.now, count=pieces, cal=self.calendar)
        if len(subs) > 1:
            spawn = [Unit(s, (), unit.depth + 1) for s in subs[1:]]
            return Split(spawn, keep_hi=subs[1].start)
        return self._id_parts(Unit(subs[0], (), unit.depth), total)

    def _id_parts(self, unit: Unit, total: int) -> Split | None:
        """One day of contacts: parts by id suffix (the reader checks that they add up).

        As many parts as workers (a part cannot be cut again), but not tiny ones.
        """
        if self.calendar is None:
            return None
        parts = id_suffix_parts(min(MAX_ID_PARTS, self.workers, math.ceil(total / ID_PART_MIN)))
        if len(parts) < 2:
            return None
        return Split([Unit(unit.slc, p, unit.depth + 1) for p in parts], replaced=True)

    def steal_cut(self, unit: Unit, progress: int | None) -> int | None:
        """Where to cut what is left of a walking unit (work stealing), or None.

        Day-aligned for contacts; when what is left lies within one day, just after the
        progress made (that rest of the day is then read as id parts, see ``rest``).
        """
        if progress is None:
            return None  # nothing seen yet: no idea where the chain stands
        lo = max(unit.start, progress)
        hi = unit.hi if unit.hi is not None else max(self.now, lo + 2)
        mid = lo + (hi - lo) // 2
        if self.calendar is None:
            return mid if lo < mid < hi else None
        cal = self.calendar
        cut = cal.midnight(cal.day_of(mid))
        if cut <= lo:
            cut = cal.midnight(cal.day_of(mid) + dt.timedelta(days=1))
        if lo < cut < hi:
            return cut
        if unit.part:
            return None
        cut = progress + 1  # within one day: the rest of it, by id parts
        return cut if lo < cut < hi else None

    def rest(self, unit: Unit, cut: int, end: int | None) -> list[Unit]:
        """The units for ``[cut, end)``, cut off ``unit``."""
        cal = self.calendar
        if cal is None or cut == cal.midnight(cal.day_of(cut)):
            [slc] = plan_slices(self.field, cut, end, self.now, count=1, cal=cal)
            return [Unit(slc, (), unit.depth + 1)]
        # A mid-day cut: the rest of that day as id parts, then the days after it.
        day_end = cal.midnight(cal.day_of(cut) + dt.timedelta(days=1))
        first_end = end if end is not None and end <= day_end else day_end
        [day] = plan_slices(self.field, cut, first_end, self.now, count=1, cal=cal)
        units = [Unit(day, (), unit.depth + 1, want_parts=True)]
        if first_end != end:
            [after] = plan_slices(self.field, first_end, end, self.now, count=1, cal=cal)
            units.append(Unit(after, (), unit.depth + 1))
        return units
