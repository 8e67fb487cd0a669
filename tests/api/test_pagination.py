"""intercom_api.pagination: one walker per pagination kind, one loop guard for all.

Each walker gets every page once, in order, and a next page that points back (a cursor or
link seen before, a page number that does not move forward, a scroll page of nothing new)
is the same ``PageLoopError`` everywhere: never an endless loop, never a silent stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intercom_api.pagination import (
    PageLoopError,
    Scroll,
    next_page_params,
    numbered_pages,
    walk_cursor,
    walk_numbered,
)


def cursor_pages(n: int, loop_at: int | None = None) -> dict[str | None, dict[str, Any]]:
    """Pages keyed by the cursor that fetches them; page ``loop_at`` points back to page 1."""
    out: dict[str | None, dict[str, Any]] = {}
    for i in range(n):
        key = None if i == 0 else f"c{i}"
        nxt: dict[str, Any] | None = {"starting_after": f"c{i + 1}"} if i + 1 < n else None
        if loop_at is not None and i == loop_at:
            nxt = {"starting_after": "c1"}
        out[key] = {"data": [{"id": i}], "pages": {"next": nxt}}
    return out


@given(st.integers(1, 30))
def test_cursor_walk_gets_every_page_once(n: int) -> None:
    pages = cursor_pages(n)
    got = list(walk_cursor(pages.__getitem__, list_key="data", method="GET", path="/x"))
    assert [p[0]["id"] for p in got] == list(range(n))


def test_a_cursor_seen_twice_is_a_page_loop() -> None:
    pages = cursor_pages(5, loop_at=3)
    with pytest.raises(PageLoopError, match="loops"):
        list(walk_cursor(pages.__getitem__, list_key="data", method="POST", path="/x/search"))


def numbered(n: int, *, back_at: int | None = None, total: bool = True) -> Any:
    def get(query: Mapping[str, Any]) -> dict[str, Any]:
        page = int(query["page"])
        nxt: Any = f"https://api.intercom.io/x?page={page + 1}&per_page=2" if page < n else None
        if back_at is not None and page == back_at:
            nxt = "https://api.intercom.io/x?page=1"
        pages: dict[str, Any] = {"next": nxt, "page": page}
        if total:
            pages["total_pages"] = n
        return {"data": [{"id": page}], "pages": pages}

    return get


@pytest.mark.parametrize("total", [True, False], ids=["total_pages", "links only"])
@pytest.mark.parametrize("workers", [1, 4])
def test_numbered_pages_in_order(total: bool, workers: int) -> None:
    with ThreadPoolExecutor(workers) as pool:
        got = list(
            numbered_pages(
                numbered(9, total=total),
                "/x",
                list_key="data",
                params={},
                pool=pool,
                window=workers,
            )
        )
    assert [p[0]["id"] for p in got] == list(range(1, 10))


def test_a_link_back_is_a_page_loop_not_a_silent_stop() -> None:
    """Deleted conversations once stopped quietly here, where other lists raised."""
    get = numbered(6, back_at=3, total=False)
    path = "/conversations/deleted"
    with pytest.raises(PageLoopError, match="points back to page 1"), ThreadPoolExecutor(2) as pool:
        list(numbered_pages(get, path, list_key="data", params={}, pool=pool, window=2))
    with pytest.raises(PageLoopError):
        list(walk_numbered(lambda _p, q: get(q), "/articles", list_key="data", params={}))


def test_next_page_params_reads_every_shape() -> None:
    assert next_page_params({"next": "https://h/x?page=3&per_page=9"}, 2) == {"page": 3}
    assert next_page_params({"next": {"page": 4}}, 3) == {"page": 4}
    assert next_page_params({"next": {"starting_after": "abc"}}, 1) == {"starting_after": "abc"}
    assert next_page_params({"next": None, "total_pages": 5}, 2) == {"page": 3}
    assert next_page_params({"next": None, "total_pages": 5}, 5) is None
    assert next_page_params(None, 1) is None


class FakeScrollClient:
    """GET /companies/scroll answers from a list of pages (the last one loops or ends)."""

    def __init__(self, pages: list[list[int]]) -> None:
        self.pages = pages
        self.calls = 0

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        i = min(self.calls, len(self.pages) - 1)
        self.calls += 1
        data = {"data": [{"id": x} for x in self.pages[i]], "scroll_param": "p"}

        class Answer:
            pass

        answer = Answer()
        answer.data = data  # type: ignore[attr-defined]
        return answer


def test_scroll_gets_every_item_once_and_a_repeating_page_is_a_page_loop() -> None:
    ok = Scroll(FakeScrollClient([[1, 2], [3], []]), "/companies/scroll")  # type: ignore[arg-type]
    assert [r["id"] for page in ok.pages() for r in page] == [1, 2, 3]
    looping = Scroll(FakeScrollClient([[1, 2], [1, 2]]), "/companies/scroll")  # type: ignore[arg-type]
    with pytest.raises(PageLoopError, match="loops instead of ending"):
        list(looping.pages())
