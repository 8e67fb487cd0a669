"""Running a parsed search: sort keys, the full sorted match list, one page, its cursor and
the spec's ``pages`` object (FACTS.md §2.6, §3).

Paging uses keyset cursors: a cursor holds the sort key (value, id) of the last document
served, so a walk never skips or repeats a document whose sort key did not change, even
when the store changed between pages. A ``SearchCache`` keeps the full sorted match list
per (caller's store version, normalised query, sort), so pages 2..n cost a bisect and a
slice instead of a scan and a sort.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable
from operator import itemgetter
from typing import Any

from intercom_sandbox.cursors import decode_cursor_payload, encode_cursor, invalid_cursor
from intercom_sandbox.search_index import Matches, SearchCache, doc_id
from intercom_sandbox.search_spec import Doc, ParsedSearch, SearchSpec, field_getter

_NUMBER_TYPES = frozenset([int, float])


# -- cursors (the opaque encoding is shared with the list endpoints: cursors.py) ----------


def decode_cursor(cursor: str, key: str) -> tuple[int, tuple[bool, Any, str]]:
    """(page number, (value missing?, sort value, id)) from a cursor of the query ``key``."""
    data = decode_cursor_payload(cursor)
    if (
        not isinstance(data, list)
        or len(data) != 5
        or data[0] != key
        or not isinstance(data[1], bool)
        or not isinstance(data[3], str)
        or not isinstance(data[4], int)
        or data[4] < 2
    ):
        raise invalid_cursor()
    return data[4], (data[1], data[2], data[3])


# -- running ------------------------------------------------------------------------------


def _normaliser(ftype: str) -> Callable[[Any], Any]:
    """Map a sort value to a comparable one of the field's type, or None (sorts last)."""
    if ftype in ("integer", "date", "float"):
        return lambda v: v if type(v) in _NUMBER_TYPES else None
    if ftype == "boolean":
        return lambda v: int(v) if isinstance(v, bool) else None
    return lambda v: v if isinstance(v, str) else (None if v is None else str(v))


def _key_function(
    spec: SearchSpec, parsed: ParsedSearch, get: Callable[[Doc, str], Any] | None
) -> Callable[[Doc], tuple[Any, str]]:
    """doc -> (normalised sort value or None, id)."""
    order = parsed.order_get
    if order is not None:  # a stable order unrelated to the body's sort (SearchOptions)
        return lambda d: (order(d), d["id"])
    name = parsed.sort_field
    norm = _normaliser(parsed.sort_type)
    simple = "." not in name and get is None and name not in spec.accessors
    if simple and parsed.sort_type in ("integer", "date", "float"):  # the common case

        def numeric_key(d: Doc) -> tuple[Any, str]:
            v = d.get(name)
            return (v if type(v) in _NUMBER_TYPES else None, d["id"])

        return numeric_key
    raw_get = field_getter(spec, name, get)
    return lambda d: (norm(raw_get(d)), d["id"])


def _sorted_matches(
    parsed: ParsedSearch,
    docs: Iterable[Doc],
    key_of: Callable[[Doc], tuple[Any, str]],
) -> Matches:
    pred = parsed.predicate
    present: list[tuple[Any, str, Doc]] = []
    missing: list[Doc] = []
    # Building tens of thousands of tuples would trigger collections that walk every
    # record of the store; none of these objects can form a cycle.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for d in docs:
            if pred(d):
                key = key_of(d)
                if key[0] is None:
                    missing.append(d)
                else:
                    present.append((*key, d))
        present.sort(key=itemgetter(0, 1))
        missing.sort(key=doc_id)
        return Matches(pred, key_of, [t[2] for t in present], missing)
    finally:
        if gc_was_enabled:
            gc.enable()


def run_search(
    parsed: ParsedSearch,
    docs: Iterable[Doc],
    spec: SearchSpec,
    *,
    get: Callable[[Doc, str], Any] | None = None,
    cache: SearchCache | None = None,
    cache_key: Hashable | None = None,
) -> tuple[list[Doc], int, str | None]:
    """(page of matching docs, total_count, next cursor or None on the last page).

    Order: by the sort field then id, documents without a sort value last (as
    Elasticsearch sorts missing values). With ``cache`` and ``cache_key`` (see
    ``SearchCache``), the sorted match list is computed once per query and reused by
    every later page; ``docs`` is then only read on a miss.
    """
    entry = None
    full_key = None
    if cache is not None and cache_key is not None:
        full_key = (cache_key, parsed.key)
        entry = cache.get(full_key)
    if entry is None:
        entry = _sorted_matches(parsed, docs, _key_function(spec, parsed, get))
        if full_key is not None and cache is not None:
            cache.put(full_key, entry)
    present, missing, key_of = entry.present, entry.missing, entry.key_of
    n_present = len(present)
    total = n_present + len(missing)

    start = 0
    if parsed.after is not None:
        was_missing, value, last_id = parsed.after
        try:
            if was_missing:
                start = n_present + bisect_right(missing, last_id, key=doc_id)
            elif parsed.sort_desc:
                start = n_present - bisect_left(present, (value, last_id), key=key_of)
            else:
                start = bisect_right(present, (value, last_id), key=key_of)
        except TypeError as e:  # a cursor value of the wrong type for this sort
            raise invalid_cursor() from e
    end = min(start + parsed.per_page, total)
    page: list[Doc] = []
    for i in range(start, end):
        if i < n_present:
            page.append(present[n_present - 1 - i] if parsed.sort_desc else present[i])
        else:
            page.append(missing[i - n_present])
    next_cursor = None
    if end < total and page:
        v, last_id = key_of(page[-1])
        next_cursor = encode_cursor([parsed.key, v is None, v, last_id, parsed.page + 1])
    return page, total, next_cursor


def pages(parsed: ParsedSearch, total_count: int, next_cursor: str | None) -> dict[str, Any]:
    """The spec's cursor ``pages`` object; no ``next`` on the last page."""
    out: dict[str, Any] = {
        "type": "pages",
        "page": parsed.page,
        "per_page": parsed.per_page,
        "total_pages": math.ceil(total_count / parsed.per_page) if total_count else 0,
    }
    if next_cursor is not None:
        out["next"] = {"per_page": parsed.per_page, "starting_after": next_cursor}
    return out
