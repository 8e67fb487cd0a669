"""Intercom's search DSL (FACTS.md §2.6, §3): validation, evaluation, sorting, cursor paging.

Shared by contacts, conversations and tickets: a store describes its searchable fields in a
``SearchSpec``; ``parse_search`` validates a whole request body and compiles the query into
a predicate; ``run_search`` filters, sorts and slices one page; ``pages`` builds the spec's
``pages`` object.

Paging uses keyset cursors: a cursor holds the sort key (value, id) of the last document
served, so a walk never skips or repeats a document whose sort key did not change, even
when the store changed between pages. A ``SearchCache`` keeps the full sorted match list
per (caller's store version, normalised query, sort), so pages 2..n cost a bisect and a
slice instead of a scan and a sort.
"""

from __future__ import annotations

import gc
import hashlib
import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Hashable, Iterable, KeysView, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import orjson

from intercom_sandbox import exceptions as exc
from intercom_sandbox.cursors import decode_cursor_payload, encode_cursor, invalid_cursor
from intercom_sandbox.search_index import LaggedIndex, Matches, SearchCache, doc_id

__all__ = [
    "LaggedIndex",
    "ParsedSearch",
    "SearchCache",
    "SearchSpec",
    "pages",
    "parse_search",
    "run_search",
]

Doc = dict[str, Any]
Getter = Callable[[Doc], Any]
Predicate = Callable[[Doc], bool]
_MULTI = (list, tuple, set, frozenset, KeysView)
# Exact types of list-valued document fields: a set lookup is much cheaper than an
# isinstance() against the KeysView ABC on the hot path of every filter.
_MULTI_TYPES = frozenset([list, tuple, set, frozenset, type({}.keys())])
_NUMBER_TYPES = frozenset([int, float])

DAY = 86_400
MAX_NESTING = 2  # "max 2 nested filters" [S16:8740]
MAX_FILTERS_PER_GROUP = 15  # "max 15 filters for each AND or OR group" [S16:8741]
SORT_ORDERS = ("ascending", "descending")

OPERATORS = frozenset(["=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"])
NEGATIVE = {"!=": "=", "NIN": "IN", "!~": "~"}

# Operators per field type (contacts' table, FACTS.md §2.6). "float" is a numeric custom
# attribute; "text" is a tokenised string (conversation source.body, FACTS.md §3).
_STRING_OPS = frozenset(["=", "!=", "IN", "NIN", "~", "!~", "^", "$"])
_NUMBER_OPS = frozenset(["=", "!=", "IN", "NIN", "<", ">", "<=", ">="])
TYPE_OPERATORS: dict[str, frozenset[str]] = {
    "string": _STRING_OPS,
    "text": _STRING_OPS,
    "boolean": frozenset(["=", "!=", "IN", "NIN"]),
    "integer": _NUMBER_OPS,
    "float": _NUMBER_OPS,
    "date": _NUMBER_OPS,  # day-granular dates narrow this to = < > (see _operators_for)
    "tag": frozenset(["=", "!="]),
}
_DAY_DATE_OPS = frozenset(["=", "<", ">"])


@dataclass(frozen=True)
class SearchSpec:
    """What one search endpoint accepts.

    ``fields`` maps a (dotted) field name to its type: string | text | integer | float |
    date | boolean | tag. ``day_granular_dates``: contact dates match by UTC calendar day
    and allow only ``= < >`` (FACTS.md §2.6). ``dates_inclusive``: ``>``/``<`` on integer and
    date fields mean ``>=``/``<=`` (conversations, FACTS.md §3). ``list_key`` is the
    response key of the result array.
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
    key: str  # normalised query + sort: the cache key and the cursor's guard


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


def _getter(spec: SearchSpec, name: str, get: Callable[[Doc, str], Any] | None) -> Getter:
    acc = spec.accessors.get(name)
    if acc is not None:
        return acc
    if get is not None:
        return lambda d: get(d, name)
    return dotted_getter(name)


# -- parsing ------------------------------------------------------------------------------


def _invalid(message: str, field_name: str | None = None) -> exc.ParameterInvalid:
    return exc.ParameterInvalid(message, field=field_name)


def _operators_for(spec: SearchSpec, ftype: str) -> frozenset[str]:
    if ftype == "date" and spec.day_granular_dates:
        return _DAY_DATE_OPS
    return TYPE_OPERATORS[ftype]


def _coerce(value: Any, ftype: str, name: str) -> Any:
    """A query value converted to the field's type; a mismatch is Intercom's 400."""
    if ftype in ("string", "text", "tag"):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _invalid(f"The value for field '{name}' must be a string", name)
        return str(value)
    if ftype in ("integer", "date", "float"):
        if isinstance(value, bool):
            raise _invalid(f"The value for field '{name}' must be a number", name)
        if isinstance(value, int) or (ftype == "float" and isinstance(value, float)):
            return value
        # The spec's own example sends a date as a numeric string ('1306054154', S16:8890).
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        kind = "a date (Unix timestamp)" if ftype == "date" else "a number"
        raise _invalid(f"The value for field '{name}' must be {kind}", name)
    if ftype == "boolean":
        if not isinstance(value, bool):
            raise _invalid(f"The value for field '{name}' must be true or false", name)
        return value
    raise _invalid(f"Field '{name}' cannot be searched", name)


def _match_one(op: str, ftype: str, q: Any, spec: SearchSpec, ci: bool) -> Callable[[Any], bool]:
    """Positive test of one scalar document value against the query value ``q``."""
    if ftype == "date" and spec.day_granular_dates:
        # Contact dates match by calendar day, UTC (FACTS.md §2.6): = is the whole day of
        # q, > starts at the next day, < ends before q's day.
        start = q - q % DAY
        end = start + DAY
        if op == "=":
            return lambda v: type(v) in _NUMBER_TYPES and start <= v < end
        if op == ">":
            return lambda v: type(v) in _NUMBER_TYPES and v >= end
        if op == "<":
            return lambda v: type(v) in _NUMBER_TYPES and v < start
    if ftype in ("integer", "date", "float"):
        inclusive = spec.dates_inclusive
        if op == "=":
            return lambda v: v == q and not isinstance(v, bool)
        if op == ">" and not inclusive:
            return lambda v: isinstance(v, (int, float)) and v > q
        if op in (">", ">="):
            return lambda v: isinstance(v, (int, float)) and v >= q
        if op == "<" and not inclusive:
            return lambda v: isinstance(v, (int, float)) and v < q
        if op in ("<", "<="):
            return lambda v: isinstance(v, (int, float)) and v <= q
        if op == "IN":
            qs = frozenset(q)
            return lambda v: v in qs
    if ftype == "boolean":
        if op == "=":
            return lambda v: v is q
        if op == "IN":
            qs = frozenset(q)
            return lambda v: isinstance(v, bool) and v in qs
    if ftype == "tag":
        return lambda v: v == q
    if ftype == "text" and op == "=":
        token = q.lower()
        return lambda v: isinstance(v, str) and token in _tokens(v)
    if ftype in ("string", "text"):
        if op == "=":
            if ci:
                ql = q.lower()
                return lambda v: isinstance(v, str) and v.lower() == ql
            return lambda v: v == q
        if op == "IN":
            if ci:
                qsl = frozenset(x.lower() for x in q)
                return lambda v: isinstance(v, str) and v.lower() in qsl
            qs = frozenset(q)
            return lambda v: v in qs
        # ~ ^ $ ignore case, as Intercom's (Elasticsearch) analysed fields do.
        ql = q.lower()
        if op == "~":
            return lambda v: isinstance(v, str) and ql in v.lower()
        if op == "^":
            return lambda v: isinstance(v, str) and v.lower().startswith(ql)
        if op == "$":
            return lambda v: isinstance(v, str) and v.lower().endswith(ql)
    raise _invalid(f"Operator '{op}' is not supported for this field")


def _tokens(text: str) -> set[str]:
    out: set[str] = set()
    word: list[str] = []
    for ch in text.lower():
        if ch.isalnum():
            word.append(ch)
        elif word:
            out.add("".join(word))
            word = []
    if word:
        out.add("".join(word))
    return out


def _compile_filter(
    node: dict[str, Any], spec: SearchSpec, get: Callable[[Doc, str], Any] | None, used: set[str]
) -> Predicate:
    name = node.get("field")
    op = node.get("operator")
    if not isinstance(name, str) or not name:
        raise _invalid("Each search filter needs a 'field' (a string)", "field")
    if op not in OPERATORS:
        raise _invalid(
            f"Operator '{op}' is not valid for field '{name}'. Valid operators: "
            + ", ".join(sorted(OPERATORS)),
            name,
        )
    ftype = spec.field_type(name)
    if ftype is None:
        raise _invalid(f"'{name}' is not a searchable field", name)
    if op not in _operators_for(spec, ftype):
        raise _invalid(
            f"Operator '{op}' is not supported for field '{name}' (type {ftype}); use one of "
            + ", ".join(sorted(_operators_for(spec, ftype))),
            name,
        )
    if "value" not in node:
        raise _invalid(f"The filter on '{name}' has no 'value'", name)
    raw = node["value"]
    used.add(name)
    getter = _getter(spec, name, get)
    negate = op in NEGATIVE
    pos_op = NEGATIVE.get(op, op)

    if raw is None:
        # `= null` tests absence, `!= null` presence (FACTS.md §2.6).
        if pos_op != "=":
            raise _invalid(f"Operator '{op}' does not take a null value (field '{name}')", name)

        def absent(d: Doc) -> bool:
            v = getter(d)
            return v is None or v == "" or (isinstance(v, (*_MULTI, dict)) and not v)

        return (lambda d: not absent(d)) if negate else absent

    if pos_op == "IN":
        if not isinstance(raw, list):
            raise _invalid(f"Operator '{op}' needs an array value (field '{name}')", name)
        q: Any = [_coerce(v, ftype, name) for v in raw]
    else:
        if isinstance(raw, (list, dict)):
            raise _invalid(
                f"Operator '{op}' needs a single value, not an array (field '{name}')", name
            )
        q = _coerce(raw, ftype, name)

    test = _match_one(pos_op, ftype, q, spec, name in spec.case_insensitive)

    if "." in name or name in spec.accessors or get is not None:

        def positive(d: Doc) -> bool:
            v = getter(d)
            if type(v) in _MULTI_TYPES or isinstance(v, _MULTI):
                # A list-valued field (contact_ids, tag ids) matches if any element does.
                return any(test(x) for x in v)
            return test(v)

    else:  # a top-level key: the hot path of the tap's `updated_at > X AND role = user`

        def positive(d: Doc) -> bool:
            v = d.get(name)
            if type(v) in _MULTI_TYPES:
                return any(test(x) for x in v)
            return test(v)

    return (lambda d: not positive(d)) if negate else positive


def _compile(
    node: Any,
    spec: SearchSpec,
    get: Callable[[Doc, str], Any] | None,
    depth: int,
    used: set[str],
) -> Predicate:
    if not isinstance(node, dict):
        raise _invalid("A search query must be an object: a filter or an AND/OR group", "query")
    if "field" in node:
        return _compile_filter(node, spec, get, used)
    op = node.get("operator")
    if op not in ("AND", "OR"):
        raise _invalid(
            f"Group operator '{op}' is not valid; use AND or OR (or give a filter with 'field')",
            "query",
        )
    if depth >= MAX_NESTING:
        raise _invalid(f"Search queries can be nested at most {MAX_NESTING} levels deep", "query")
    children = node.get("value")
    if not isinstance(children, list) or not children:
        raise _invalid(f"An {op} group needs a non-empty array of filters as 'value'", "query")
    if len(children) > MAX_FILTERS_PER_GROUP:
        raise _invalid(
            f"An {op} group can hold at most {MAX_FILTERS_PER_GROUP} filters; "
            f"it has {len(children)}",
            "query",
        )
    preds = [_compile(c, spec, get, depth + 1, used) for c in children]
    if len(preds) == 1:
        return preds[0]
    if op == "AND":
        if len(preds) == 2:
            a, b = preds
            return lambda d: a(d) and b(d)
        return lambda d: all(p(d) for p in preds)
    if len(preds) == 2:
        a, b = preds
        return lambda d: a(d) or b(d)
    return lambda d: any(p(d) for p in preds)


def parse_search(
    body: dict[str, Any], spec: SearchSpec, *, get: Callable[[Doc, str], Any] | None = None
) -> ParsedSearch:
    """Validate a whole search body (query DSL, limits, sort, pagination) or raise a 400."""
    if not isinstance(body, dict):
        raise _invalid("The search body must be a JSON object")
    query = body.get("query")
    if query is None:
        raise exc.ParameterNotFound("query is required", field="query")
    used: set[str] = set()
    predicate = _compile(query, spec, get, 0, used)

    sort_field, sort_desc = spec.default_sort
    sort_type = spec.default_sort_type
    sort = body.get("sort")
    if sort is not None:
        if not isinstance(sort, dict):
            raise _invalid("sort must be an object with 'field' and 'order'", "sort")
        order = sort.get("order")
        if order is None:
            order = "descending"  # the documented default [S16:25795]
        if order not in SORT_ORDERS:
            raise exc.InvalidSortOrder(
                f"Invalid sort order '{order}'. Must be one of: ascending, descending",
                field="sort.order",
            )
        f = sort.get("field")
        if not isinstance(f, str) or not f:
            raise _invalid("sort.field is required", "sort.field")
        ftype = spec.field_type(f)
        if ftype is None or ftype == "tag":
            raise _invalid(f"'{f}' is not a sortable field", "sort.field")
        sort_field, sort_type, sort_desc = f, ftype, order == "descending"

    pagination = body.get("pagination")
    per_page = spec.default_per_page
    cursor = None
    if pagination is not None:
        if not isinstance(pagination, dict):
            raise _invalid("pagination must be an object", "pagination")
        if pagination.get("per_page") is not None:
            per_page = pagination["per_page"]
            if isinstance(per_page, bool) or not isinstance(per_page, int):
                raise _invalid("per_page must be an integer", "per_page")
            if not 1 <= per_page <= spec.max_per_page:
                raise _invalid(f"per_page must be between 1 and {spec.max_per_page}", "per_page")
        cursor = pagination.get("starting_after")
        if cursor is not None and not isinstance(cursor, str):
            raise invalid_cursor()

    key = hashlib.blake2b(
        orjson.dumps([query, sort_field, sort_desc], option=orjson.OPT_SORT_KEYS),
        digest_size=8,
    ).hexdigest()
    page, after = 1, None
    if cursor:
        page, after = _decode_cursor(cursor, key)
    return ParsedSearch(
        query=query,
        predicate=predicate,
        fields_used=frozenset(used),
        sort_field=sort_field,
        sort_type=sort_type,
        sort_desc=sort_desc,
        per_page=per_page,
        page=page,
        after=after,
        key=key,
    )


# -- cursors (the opaque encoding is shared with the list endpoints: cursors.py) ----------


def _decode_cursor(cursor: str, key: str) -> tuple[int, tuple[bool, Any, str]]:
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
    name = parsed.sort_field
    norm = _normaliser(parsed.sort_type)
    simple = "." not in name and get is None and name not in spec.accessors
    if simple and parsed.sort_type in ("integer", "date", "float"):  # the common case

        def numeric_key(d: Doc) -> tuple[Any, str]:
            v = d.get(name)
            return (v if type(v) in _NUMBER_TYPES else None, d["id"])

        return numeric_key
    raw_get = _getter(spec, name, get)
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
