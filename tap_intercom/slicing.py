"""Time slices of a sync and the search filters that select them.

Contact search matches timestamps by calendar day in the workspace's timezone (FACTS.md §2.6):
``= X`` matches X's whole day, ``> X`` starts at the NEXT day, ``< X`` ends before X's day. So
contact slices are whole days, and each filter value sits at noon of a day, far from the
boundary whatever the DST shift. Conversation search is second-precise and documented as
inclusive (FACTS.md §3); its filters are widened by a second so they select a superset
whether the server treats them as inclusive or not. Either way the exact range is enforced
client-side (``TimeSlice.contains``), so a slice never leaks a record into another.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intercom_api import query as q

DAY = 86400


Filters = tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class TimeSlice:
    """Records with ``start <= ts < end`` (``end`` None: open-ended); ``filters`` select them.

    ``parts`` cut a slice that cannot be cut in time (one busy day of contacts) into disjoint
    queries, each adding its own filters; their sorted results are merged back in order.
    """

    start: int
    end: int | None
    filters: Filters
    parts: tuple[Filters, ...] = ((),)

    def contains(self, ts: int) -> bool:
        return ts >= self.start and (self.end is None or ts < self.end)


HEX = "0123456789abcdef"


def id_suffix_parts(count: int) -> tuple[Filters, ...]:
    """``count`` disjoint filters on the last character of hex ids (``id $ c``).

    The tail of an Intercom id is its counter, so suffixes spread records evenly (unlike the
    leading, time-based characters). Callers check the parts' counts add up to the whole.
    """
    count = min(count, len(HEX))
    if count <= 1:
        return ((),)
    groups = [HEX[i::count] for i in range(count)]
    return tuple((q.or_(*[q.filter("id", "$", c) for c in group]),) for group in groups)


def valid_zone(name: str) -> bool:
    """An IANA timezone name this machine knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def same_zone(a: str, b: str) -> bool:
    """Two zone names with the same offsets (aliases: UTC = Etc/UTC, US/Pacific = ...).

    Compared every six hours over ten years around now: day boundaries are what matter.
    """
    if a == b:
        return True
    za, zb = ZoneInfo(a), ZoneInfo(b)
    now = dt.datetime.now(dt.timezone.utc)
    step = dt.timedelta(hours=6)
    t, end = now - dt.timedelta(days=5 * 365), now + dt.timedelta(days=5 * 365)
    while t < end:
        if t.astimezone(za).utcoffset() != t.astimezone(zb).utcoffset():
            return False
        t += step
    return True


class DayCalendar:
    """Local-midnight arithmetic in the workspace's timezone."""

    def __init__(self, timezone: str = "UTC") -> None:
        self.tz = dt.timezone.utc if timezone in ("UTC", "Etc/UTC") else ZoneInfo(timezone)

    def day_of(self, ts: int) -> dt.date:
        return dt.datetime.fromtimestamp(ts, self.tz).date()

    def midnight(self, day: dt.date) -> int:
        return int(dt.datetime(day.year, day.month, day.day, tzinfo=self.tz).timestamp())

    def noon(self, day: dt.date) -> int:
        return int(dt.datetime(day.year, day.month, day.day, 12, tzinfo=self.tz).timestamp())


def day_filters(
    field: str, cal: DayCalendar, first: dt.date, end_day: dt.date | None
) -> tuple[dict[str, Any], ...]:
    """Filters matching days ``first`` to ``end_day`` (exclusive; None: open), day-granular key.

    Never ``=``: on Preview (and wherever search is exact to the second) ``= noon`` would match
    one second, while ``> noon of the day before`` and ``< noon of the end day`` still select
    a superset of the days (trimmed client-side), whichever precision the server uses.
    """
    one = dt.timedelta(days=1)
    filters = [q.filter(field, ">", cal.noon(first - one))]
    if end_day is not None:
        filters.append(q.filter(field, "<", cal.noon(end_day)))
    return tuple(filters)


def second_filters(field: str, start: int, end: int | None) -> tuple[dict[str, Any], ...]:
    """Filters selecting a superset of ``start <= ts < end`` on a second-precise key."""
    filters = [q.filter(field, ">", start - 1)]
    if end is not None:
        filters.append(q.filter(field, "<", end))
    return tuple(filters)


def range_slice(
    field: str, start: int | None, end: int | None, *, cal: DayCalendar | None
) -> TimeSlice:
    """One slice for the whole range (``start`` None: from the beginning)."""
    lo = start if start is not None else -(2**62)
    if start is None:
        filters: tuple[dict[str, Any], ...] = ()
        if end is not None:
            filters = (
                (q.filter(field, "<", cal.noon(cal.day_of(end - 1) + dt.timedelta(days=1))),)
                if cal
                else (q.filter(field, "<", end),)
            )
        return TimeSlice(lo, end, filters)
    if cal is None:
        return TimeSlice(lo, end, second_filters(field, start, end))
    end_day = cal.day_of(end - 1) + dt.timedelta(days=1) if end is not None else None
    return TimeSlice(lo, end, day_filters(field, cal, cal.day_of(start), end_day))


def plan_slices(
    field: str,
    start: int,
    end: int | None,
    now: int,
    *,
    count: int,
    cal: DayCalendar | None,
) -> list[TimeSlice]:
    """Cut ``[start, end or open)`` into about ``count`` slices in time order.

    Day-granular keys get whole-day slices (never more than one per day); second-precise
    keys get equal spans. The last slice is open-ended when ``end`` is None, so records
    written during the sync still have a home.
    """
    horizon = end if end is not None else max(now, start + 1)
    count = max(1, count)
    if cal is None:
        span = max(1, math.ceil((horizon - start) / count))
        bounds = list(range(start, horizon, span))[:count]
        slices = []
        for i, lo in enumerate(bounds):
            last = i == len(bounds) - 1
            hi = end if last else bounds[i + 1]
            slices.append(TimeSlice(lo, hi, second_filters(field, lo, hi)))
        return slices

    first_day = cal.day_of(start)
    last_day = cal.day_of(horizon - 1)
    n_days = (last_day - first_day).days + 1
    count = min(count, n_days)
    per = n_days / count
    slices = []
    for i in range(count):
        d0 = first_day + dt.timedelta(days=round(i * per))
        last = i == count - 1
        d1 = None if last and end is None else first_day + dt.timedelta(days=round((i + 1) * per))
        lo = start if i == 0 else cal.midnight(d0)
        if last:
            hi = end
        else:
            assert d1 is not None
            hi = cal.midnight(d1)
        slices.append(TimeSlice(lo, hi, day_filters(field, cal, d0, d1)))
    return slices
