"""What a search endpoint accepts (``SearchSpec``), how one request is to be read
(``SearchOptions``), and a validated request (``ParsedSearch``).

Kept apart from the DSL compiler (``search.py``) and the page runner (``search_run.py``)
so each reads as one job; ``search.py`` re-exports everything a store needs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from intercom_sandbox.search_dates import DateMode

Doc = dict[str, Any]
Getter = Callable[[Doc], Any]
Predicate = Callable[[Doc], bool]


@dataclass(frozen=True)
class SearchSpec:
    """What one search endpoint accepts.

    ``fields`` maps a (dotted) field name to its type: string | text | integer | float |
    date | boolean | tag. ``day_granular_dates``: contact dates match by calendar day and
    allow only ``= < >`` on stable versions (FACTS.md §2.6; the day's timezone comes with
    the request's ``SearchOptions``, UTC by default). ``dates_inclusive``: ``>``/``<`` on
    integer and date fields mean ``>=``/``<=`` (conversations, FACTS.md §3). ``list_key`` is
    the response key of the result array.
    """

    fields: Mapping[str, str]
    day_granular_dates: bool
    default_per_page: int
    dates_inclusive: bool
    list_key: str
    max_per_page: int = 150
    # field -> accessor(doc), overriding the dotted lookup (aliases, computed fields).
    accessors: Mapping[str, Getter] = field(default_factory=dict)
    # Fields not in ``fields`` (e.g. custom_attributes.x): name -> type, or None if unknown.
    resolve_field: Callable[[str], str | None] | None = None
    # String fields whose equality ignores case (contact e-mail, FACTS.md §2.6).
    case_insensitive: frozenset[str] = frozenset()
    # Order used when the body has no ``sort``: (field, descending?) and that field's type.
    default_sort: tuple[str, bool] = ("id", False)
    default_sort_type: str = "string"

    def field_type(self, name: str) -> str | None:
        t = self.fields.get(name)
        if t is None and self.resolve_field is not None:
            t = self.resolve_field(name)
        return t


@dataclass(frozen=True)
class SearchOptions:
    """How one request is read, where the sandbox's switches or the request's version
    decide (settings.py): date precision and timezone, e-mail case, result order.

    ``None`` fields fall back to the spec: day-granular dates in UTC where the spec has
    them, the spec's case-insensitive fields, the body's ``sort``. ``order`` set: the
    body's ``sort`` is validated, then ignored, and results come in ``order(doc)`` order
    (a stable key unrelated to time); ``order_name`` names that order in the cache key.
    """

    dates: DateMode | None = None
    case_insensitive: frozenset[str] | None = None
    order: Getter | None = None
    order_name: str = ""

    def resolve(self, spec: SearchSpec) -> tuple[DateMode, frozenset[str]]:
        dates = self.dates
        if dates is None:
            dates = DateMode.utc_days() if spec.day_granular_dates else DateMode.exact()
        ci = spec.case_insensitive if self.case_insensitive is None else self.case_insensitive
        return dates, ci


@dataclass
class ParsedSearch:
    """A validated search request: predicate, sort, page size and cursor position."""

    query: dict[str, Any]
    predicate: Predicate
    fields_used: frozenset[str]
    sort_field: str
    sort_type: str
    sort_desc: bool
    per_page: int
    page: int
    after: tuple[bool, Any, str] | None  # (value missing?, sort value, id) of the last doc served
    key: str  # normalised query + sort + options: the cache key and the cursor's guard
    order_get: Getter | None = None  # set: sort by this stable key instead of sort_field


# -- field access -------------------------------------------------------------------------


def dotted_getter(name: str) -> Getter:
    """doc["a"]["b"] for "a.b"; None where any level is missing or not an object."""
    if "." not in name:
        return lambda d: d.get(name)
    parts = tuple(name.split("."))

    def get(d: Doc) -> Any:
        cur: Any = d
        for p in parts:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(p)
        return cur

    return get


def field_getter(spec: SearchSpec, name: str, get: Callable[[Doc, str], Any] | None) -> Getter:
    """How to read field ``name`` of a document: accessor, store getter, or dotted lookup."""
    acc = spec.accessors.get(name)
    if acc is not None:
        return acc
    if get is not None:
        return lambda d: get(d, name)
    return dotted_getter(name)


def seeded_order(seed: int) -> Getter:
    """A stable order unrelated to time: a seeded hash of the document's id (the
    ``conversation_order: unsorted`` switch, settings.py)."""
    salt = f"{seed}:".encode()
    return lambda d: hashlib.blake2b(salt + str(d["id"]).encode(), digest_size=8).hexdigest()


def unsorted_options(seed: int) -> SearchOptions:
    """Options that ignore the body's ``sort`` and answer in ``seeded_order(seed)``."""
    return SearchOptions(order=seeded_order(seed), order_name=f"shuffle:{seed}")
