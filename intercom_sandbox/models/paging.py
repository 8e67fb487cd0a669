"""Page-number pagination (``page`` / ``per_page``) shared by the page-based list endpoints.

Intercom's page-based lists (companies, articles, activity logs, deleted conversations...)
answer ``pages: {type: "pages", page, per_page, total_pages, next}``. The 2.16 spec types
``next`` as a ``starting_after_paging`` object on most of them and as a URL on a few
(``pages_link``); the caller picks which through ``next_value``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from intercom_sandbox import exceptions as exc

T = TypeVar("T")


def int_param(query: Mapping[str, Any], name: str, default: int, *, minimum: int = 1) -> int:
    """A positive integer query (or body) parameter; anything else is a 400."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        raise exc.ParameterInvalid(f"{name} must be an integer", field=name)
    try:
        value = int(raw)
    except (TypeError, ValueError) as e:
        raise exc.ParameterInvalid(f"{name} must be an integer", field=name) from e
    if value < minimum:
        raise exc.ParameterInvalid(f"{name} must be at least {minimum}", field=name)
    return value


def page_params(
    query: Mapping[str, Any], *, default_per_page: int, max_per_page: int
) -> tuple[int, int]:
    """(page, per_page); per_page above the maximum is clamped to it, as Intercom does."""
    page = int_param(query, "page", 1)
    per_page = min(int_param(query, "per_page", default_per_page), max_per_page)
    return page, per_page


def paginate(
    items: Sequence[T],
    page: int,
    per_page: int,
    *,
    next_value: Callable[[int], Any] | None = None,
) -> tuple[Sequence[T], dict[str, Any]]:
    """The items of one page and the spec's ``pages`` object.

    ``next`` is None on the last page; otherwise ``next_value(next_page)`` when given, else
    ``{"page": n, "per_page": k}`` (a ``starting_after_paging``-shaped object, which is
    what the spec's ``cursor_pages`` allows there).
    """
    total_pages = math.ceil(len(items) / per_page) if items else 0
    start = (page - 1) * per_page
    window = items[start : start + per_page]
    nxt: Any = None
    if page < total_pages:
        nxt = next_value(page + 1) if next_value else {"page": page + 1, "per_page": per_page}
    pages = {
        "type": "pages",
        "next": nxt,
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
    }
    return window, pages


def bool_param(query: Mapping[str, Any], name: str, default: bool = False) -> bool:
    """A boolean query parameter: ``true`` / ``false`` (case-insensitive), 1 / 0."""
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise exc.ParameterInvalid(f"{name} must be true or false", field=name)
