"""Record transforms: Intercom's unix-second timestamps → ISO 8601 strings, driven by the schema.

Intercom sends every timestamp as integer unix seconds (FACTS.md §8); the schemas declare them
``format: date-time``. A plan of the timestamp paths is compiled once per schema so a record
costs one dict walk over only the fields that hold timestamps.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

_TS, _OBJ, _ARR = 0, 1, 2
Plan = tuple[tuple[str, int, Any], ...]
_day_prefix: dict[int, str] = {}


def iso(ts: float) -> str:
    """Unix seconds → ``YYYY-MM-DDTHH:MM:SS+00:00`` (cached per day: this runs per field)."""
    sec = int(ts)
    day, rem = divmod(sec, 86400)
    prefix = _day_prefix.get(day)
    if prefix is None:
        prefix = _day_prefix[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86400))
    hours, rem = divmod(rem, 3600)
    minutes, seconds = divmod(rem, 60)
    return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}+00:00"


def _types(node: dict[str, Any]) -> set[str]:
    t = node.get("type")
    if isinstance(t, list):
        return set(t)
    return {t} if isinstance(t, str) else set()


def compile_plan(schema: dict[str, Any]) -> Plan:
    """The paths under ``schema`` that hold date-time values (empty branches pruned)."""
    steps: list[tuple[str, int, Any]] = []
    for key, node in (schema.get("properties") or {}).items():
        if not isinstance(node, dict):
            continue
        types = _types(node)
        if node.get("format") == "date-time":
            steps.append((key, _TS, None))
        elif "object" in types and node.get("properties"):
            sub = compile_plan(node)
            if sub:
                steps.append((key, _OBJ, sub))
        elif "array" in types and isinstance(node.get("items"), dict):
            items = node["items"]
            if items.get("properties"):
                sub = compile_plan(items)
                if sub:
                    steps.append((key, _ARR, sub))
    return tuple(steps)


def apply_plan(record: dict[str, Any], plan: Plan) -> None:
    """Convert, in place, every numeric timestamp the plan names."""
    for key, kind, sub in plan:
        value = record.get(key)
        if value is None:
            continue
        if kind == _TS:
            if value.__class__ is int or value.__class__ is float:
                record[key] = iso(value)
        elif kind == _OBJ:
            if value.__class__ is dict:
                apply_plan(value, sub)
        elif value.__class__ is list:
            for item in value:
                if item.__class__ is dict:
                    apply_plan(item, sub)


def timestamp_converter(schema: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A function converting a record's timestamps in place, for this schema."""
    plan = compile_plan(schema)

    def convert(record: dict[str, Any]) -> None:
        apply_plan(record, plan)

    return convert
