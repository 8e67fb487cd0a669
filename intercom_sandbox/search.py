"""Intercom's search DSL (FACTS.md §2.6, §3): validation and compilation of a search body.

Shared by contacts, conversations and tickets: a store describes its searchable fields in a
``SearchSpec`` (search_spec.py); ``parse_search`` validates a whole request body and
compiles the query into a predicate, reading it as the request's ``SearchOptions`` say
(date precision and timezone, e-mail case, order); ``run_search`` (search_run.py) filters,
sorts and slices one page; ``pages`` builds the spec's ``pages`` object. Date matching by
calendar day lives in search_dates.py.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, KeysView
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import orjson

from intercom_sandbox import exceptions as exc
from intercom_sandbox.cursors import invalid_cursor
from intercom_sandbox.search_dates import (
    DAY_DATE_OPS,
    SECOND_DATE_OPS,
    DateMode,
    day_matcher,
)
from intercom_sandbox.search_index import LaggedIndex, SearchCache
from intercom_sandbox.search_run import decode_cursor, pages, run_search
from intercom_sandbox.search_spec import (
    Doc,
    ParsedSearch,
    Predicate,
    SearchOptions,
    SearchSpec,
    dotted_getter,
    field_getter,
)

__all__ = [
    "DateMode",
    "LaggedIndex",
    "ParsedSearch",
    "SearchCache",
    "SearchOptions",
    "SearchSpec",
    "dotted_getter",
    "pages",
    "parse_search",
    "run_search",
]

_MULTI = (list, tuple, set, frozenset, KeysView)
# Exact types of list-valued document fields: a set lookup is much cheaper than an
# isinstance() against the KeysView ABC on the hot path of every filter.
_MULTI_TYPES = frozenset([list, tuple, set, frozenset, type({}.keys())])

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
    "date": _NUMBER_OPS,  # contact dates narrow this (see _operators_for)
    "tag": frozenset(["=", "!="]),
}


# -- parsing ------------------------------------------------------------------------------


def _invalid(message: str, field_name: str | None = None) -> exc.ParameterInvalid:
    return exc.ParameterInvalid(message, field=field_name)


@dataclass(frozen=True)
class _Reading:
    """How this request's filters are compiled: the spec, the store's getter, the date
    mode and the case-insensitive fields (the resolved ``SearchOptions``)."""

    spec: SearchSpec
    get: Callable[[Doc, str], Any] | None
    dates: DateMode
    case_insensitive: frozenset[str]


def _operators_for(reading: _Reading, ftype: str, zone: tzinfo | None) -> frozenset[str]:
    if ftype == "date" and reading.spec.day_granular_dates:
        # Contact dates: = < > by calendar day on stable versions; Preview's exact-second
        # matching also takes != >= <= (FACTS.md §2.6).
        return DAY_DATE_OPS if zone is not None else SECOND_DATE_OPS
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
        # singer-io/tap-intercom sends dates as floats (datetime.timestamp(), fractions
        # included) on every contact and conversation search: production evidence that
        # Intercom takes them (intercom_sandbox/README.md, "What real clients send").
        if ftype == "date" and isinstance(value, float) and math.isfinite(value):
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


def _match_one(
    op: str, ftype: str, q: Any, spec: SearchSpec, ci: bool, zone: tzinfo | None = None
) -> Callable[[Any], bool]:
    """Positive test of one scalar document value against the query value ``q``.

    ``zone``: a date field matched by calendar day of that timezone (search_dates.py);
    None compares numbers exactly.
    """
    if ftype == "date" and zone is not None and op in DAY_DATE_OPS:
        try:
            return day_matcher(op, q, zone)
        except ValueError as e:
            raise _invalid(str(e)) from e
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


def _compile_filter(node: dict[str, Any], reading: _Reading, used: set[str]) -> Predicate:
    spec, get = reading.spec, reading.get
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
    zone = reading.dates.zone_for(name) if ftype == "date" else None
    allowed = _operators_for(reading, ftype, zone)
    if op not in allowed:
        raise _invalid(
            f"Operator '{op}' is not supported for field '{name}' (type {ftype}); use one of "
            + ", ".join(sorted(allowed)),
            name,
        )
    if "value" not in node:
        raise _invalid(f"The filter on '{name}' has no 'value'", name)
    raw = node["value"]
    used.add(name)
    getter = field_getter(spec, name, get)
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

    test = _match_one(pos_op, ftype, q, spec, name in reading.case_insensitive, zone)

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


def _compile(node: Any, reading: _Reading, depth: int, used: set[str]) -> Predicate:
    if not isinstance(node, dict):
        raise _invalid("A search query must be an object: a filter or an AND/OR group", "query")
    if "field" in node:
        return _compile_filter(node, reading, used)
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
    preds = [_compile(c, reading, depth + 1, used) for c in children]
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
    body: dict[str, Any],
    spec: SearchSpec,
    *,
    get: Callable[[Doc, str], Any] | None = None,
    options: SearchOptions | None = None,
) -> ParsedSearch:
    """Validate a whole search body (query DSL, limits, sort, pagination) or raise a 400.

    ``options`` (search_spec.py) say how to read it where the sandbox's switches or the
    request's version decide; without them, the spec's defaults.
    """
    options = options or SearchOptions()
    dates, ci = options.resolve(spec)
    if not isinstance(body, dict):
        raise _invalid("The search body must be a JSON object")
    query = body.get("query")
    if query is None:
        raise exc.ParameterNotFound("query is required", field="query")
    used: set[str] = set()
    predicate = _compile(query, _Reading(spec, get, dates, ci), 0, used)

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
    if options.order is not None:  # the sort was checked, and is ignored (SearchOptions)
        sort_field, sort_type, sort_desc = f"~{options.order_name}", "string", False

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

    reading = [dates.fingerprint(), sorted(ci)]
    key = hashlib.blake2b(
        orjson.dumps([query, sort_field, sort_desc, reading], option=orjson.OPT_SORT_KEYS),
        digest_size=8,
    ).hexdigest()
    page, after = 1, None
    if cursor:
        page, after = decode_cursor(cursor, key)
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
        order_get=options.order,
    )
