"""Search-query builder for /contacts/search, /conversations/search, /tickets/search.

Intercom's limits (FACTS.md §2.6, §3): at most 2 levels of nested groups, at most 15 filters
per AND/OR group. ``validate`` checks them before a request is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

MAX_NESTING = 2
MAX_FILTERS_PER_GROUP = 15
# No array-size limit is documented for IN; 15 mirrors the per-group limit and keeps queries
# small. Callers may pass a larger ``size``.
DEFAULT_IN_CHUNK = 15
OPERATORS = frozenset({"=", "!=", "IN", "NIN", "<", "<=", ">", ">=", "~", "!~", "^", "$"})
GROUP_OPERATORS = frozenset({"AND", "OR"})


def filter(field: str, op: str, value: Any) -> dict[str, Any]:
    """One filter ``{field, operator, value}``."""
    if not isinstance(field, str) or not field:
        raise ValueError("a search filter needs a field name")
    if op not in OPERATORS:
        raise ValueError(f"unknown search operator {op!r}; known: {' '.join(sorted(OPERATORS))}")
    if op in ("IN", "NIN") and not isinstance(value, (list, tuple)):
        raise ValueError(f"{op} takes a list of values (field {field!r})")
    if isinstance(value, tuple):
        value = list(value)
    return {"field": field, "operator": op, "value": value}


def _group(op: str, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if not items:
        raise ValueError(f"an {op} group needs at least one filter")
    if len(items) == 1:
        return items[0]  # a group of one is the item itself: one nesting level saved
    return {"operator": op, "value": list(items)}


def and_(*items: dict[str, Any]) -> dict[str, Any]:
    """``AND`` of filters or groups (a single item is returned as is)."""
    return _group("AND", items)


def or_(*items: dict[str, Any]) -> dict[str, Any]:
    """``OR`` of filters or groups (a single item is returned as is)."""
    return _group("OR", items)


def _is_group(node: Any) -> bool:
    return (
        isinstance(node, dict) and node.get("operator") in GROUP_OPERATORS and "field" not in node
    )


def validate(query: Any) -> None:
    """Raise ValueError when ``query`` is malformed or breaks Intercom's limits."""
    _check(query, depth=0)


def _check(node: Any, depth: int) -> None:
    if not isinstance(node, dict):
        raise ValueError(f"a search query node must be an object, got {type(node).__name__}")
    if _is_group(node):
        if depth >= MAX_NESTING:
            raise ValueError(
                f"search query nests groups more than {MAX_NESTING} levels deep (Intercom limit)"
            )
        children = node.get("value")
        if not isinstance(children, list) or not children:
            raise ValueError("a search group's value must be a non-empty list")
        if len(children) > MAX_FILTERS_PER_GROUP:
            raise ValueError(
                f"a search group has {len(children)} filters; Intercom allows at most "
                f"{MAX_FILTERS_PER_GROUP} per AND/OR group"
            )
        for child in children:
            _check(child, depth + 1)
        return
    field, op = node.get("field"), node.get("operator")
    if not isinstance(field, str) or not field or op not in OPERATORS or "value" not in node:
        raise ValueError(f"malformed search filter {node!r}: needs field, operator and value")
    if op in ("IN", "NIN") and not isinstance(node["value"], list):
        raise ValueError(f"{op} takes a list of values (field {field!r})")


def in_chunks(
    field: str, values: Iterable[Any], size: int = DEFAULT_IN_CHUNK
) -> list[dict[str, Any]]:
    """``field IN [...]`` filters covering ``values`` (deduplicated, order kept), ``size`` each.

    Each returned filter is a valid query on its own, or can be AND-ed with others.
    """
    if size < 1:
        raise ValueError("in_chunks size must be >= 1")
    unique = list(dict.fromkeys(values))
    return [filter(field, "IN", unique[i : i + size]) for i in range(0, len(unique), size)]
