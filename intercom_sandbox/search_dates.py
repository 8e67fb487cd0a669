"""How contact search compares dates (FACTS.md §2.6): by calendar day in a timezone, or to
the exact second.

Stable versions match contact timestamps "by calendar day in the workspace's timezone":
``=`` is the whole day of the value, ``>`` starts at the next local midnight, ``<`` ends at
the day's local midnight. A local day runs from one local midnight to the next, so it is
23 or 25 hours long across a DST change. Preview matches standard timestamps to the exact
second (UTC) and keeps Date custom attributes day-based in UTC.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

DAY = 86_400
DAY_DATE_OPS = frozenset(["=", "<", ">"])  # stable versions, date fields (FACTS.md §2.6)
# Preview: =, >, <, >=, <= on the exact instant; != also matches contacts with no value.
SECOND_DATE_OPS = frozenset(["=", "!=", "<", ">", "<=", ">="])
_NUMBER_TYPES = frozenset([int, float])


def zone_name(zone: tzinfo | None) -> str:
    """A stable name for a zone (the cache key and cursors carry it)."""
    if zone is None:
        return "exact"
    return str(getattr(zone, "key", None) or zone)


@dataclass(frozen=True)
class DateMode:
    """Per request: the zone whose calendar days match standard date fields and the one for
    Date custom attributes (``custom_attributes.x``); None means exact seconds."""

    standard: tzinfo | None
    custom: tzinfo | None

    @classmethod
    def utc_days(cls) -> DateMode:
        return cls(timezone.utc, timezone.utc)

    @classmethod
    def exact(cls) -> DateMode:
        return cls(None, None)

    def zone_for(self, field_name: str) -> tzinfo | None:
        return self.custom if field_name.startswith("custom_attributes.") else self.standard

    def fingerprint(self) -> list[str]:
        return [zone_name(self.standard), zone_name(self.custom)]


def day_bounds(q: float, zone: tzinfo) -> tuple[int, int]:
    """[start, end) in unix seconds of the calendar day of ``zone`` that contains ``q``.

    Midnights are local: a day is 23 or 25 hours long across a DST change. Where local
    midnight does not exist (a zone that springs forward at 00:00) the day starts at the
    first instant after the gap; where it happens twice, at its first occurrence.
    Raises ValueError for a value no calendar can hold.
    """
    try:
        local = datetime.fromtimestamp(math.floor(q), zone)
        day = local.date()
        nxt = day + timedelta(days=1)
        start = datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
        end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).timestamp()
    except (OverflowError, OSError, ValueError) as e:
        raise ValueError(f"{q!r} is not a date Intercom can match") from e
    return math.floor(start), math.floor(end)


def day_matcher(op: str, q: float, zone: tzinfo) -> Callable[[Any], bool]:
    """The positive test of a document value against ``q`` by calendar day of ``zone``:
    ``=`` the whole day of q, ``>`` from the next local midnight, ``<`` before q's day."""
    start, end = day_bounds(q, zone)
    if op == "=":
        return lambda v: type(v) in _NUMBER_TYPES and start <= v < end
    if op == ">":
        return lambda v: type(v) in _NUMBER_TYPES and v >= end
    if op == "<":
        return lambda v: type(v) in _NUMBER_TYPES and v < start
    raise ValueError(f"operator {op!r} does not match by day")
