"""Search state that outlives one request: the lagged index and the cache of sorted results.

``LaggedIndex`` models Intercom's search index delay (FACTS.md §2.6 "Contact Creation
Delay"); ``SearchCache`` keeps full sorted match lists so a walk of pages costs a bisect
and a slice per page. Both work on plain dict documents with an ``id``.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any

Doc = dict[str, Any]
Predicate = Callable[[Doc], bool]


def doc_id(doc: Doc) -> str:
    """The sort key of the documents without a sort value."""
    return doc["id"]


class Matches:
    """The full sorted match list of one query: what a cache entry holds.

    ``present``: matching docs with a sort value, ascending by (value, id); ``missing``:
    matching docs without one, by id (they come last in both orders).
    """

    __slots__ = ("key_of", "missing", "predicate", "present")

    def __init__(
        self,
        predicate: Predicate,
        key_of: Callable[[Doc], tuple[Any, str]],
        present: list[Doc],
        missing: list[Doc],
    ) -> None:
        self.predicate = predicate
        self.key_of = key_of
        self.present = present
        self.missing = missing

    def discard(self, doc: Doc) -> None:
        value, ident = self.key_of(doc)
        if value is None:
            seq, i = self.missing, bisect_left(self.missing, ident, key=doc_id)
        else:
            seq, i = self.present, bisect_left(self.present, (value, ident), key=self.key_of)
        if i < len(seq) and seq[i]["id"] == ident:
            del seq[i]

    def add(self, doc: Doc) -> None:
        if not self.predicate(doc):
            return
        value, ident = self.key_of(doc)
        if value is None:
            self.missing.insert(bisect_left(self.missing, ident, key=doc_id), doc)
        else:
            self.present.insert(bisect_left(self.present, (value, ident), key=self.key_of), doc)


class SearchCache:
    """LRU of full sorted match lists, keyed by (``cache_key``, normalised query + sort).

    Two ways to keep it right: pass the store's version as ``cache_key`` (entries of an
    older version are never looked up again), or pass a constant and report every change
    of the searchable documents with ``apply(old, new)``, which patches each entry in
    place (a bisect and a list insert) so writes between pages cost no rescan.
    """

    def __init__(self, max_entries: int = 64) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Matches] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Matches | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
            self.hits += 1
        else:
            self.misses += 1
        return entry

    def put(self, key: Hashable, value: Matches) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def apply(self, old: Doc | None, new: Doc | None) -> None:
        """A searchable document changed (``old`` -> ``new``; None = absent)."""
        for entry in self._entries.values():
            if old is not None:
                entry.discard(old)
            if new is not None:
                entry.add(new)

    def clear(self) -> None:
        self._entries.clear()


class LaggedIndex:
    """What search sees: each write becomes visible ``lag()`` seconds (sandbox clock) later.

    Until then search keeps serving the previously indexed version of the document (or
    nothing, for a new one), as Intercom's search index does (FACTS.md §2.6 "Contact
    Creation Delay"). Removals are immediate. Documents must be replaced, never mutated in
    place (copy-on-write), since the index keeps references to older versions.
    ``version`` changes whenever the visible set changes: use it as ``run_search``'s
    ``cache_key``.
    """

    def __init__(
        self,
        now: Callable[[], float],
        lag: Callable[[], float],
        alive: Callable[[str], bool],
        on_change: Callable[[Doc | None, Doc | None], None] | None = None,
    ) -> None:
        self._now = now
        self._on_change = on_change
        self._lag = lag
        self._alive = alive
        self._visible: dict[str, Doc] = {}
        self._pending: list[tuple[float, int, str, int, Doc]] = []
        self._gen: dict[str, int] = {}
        self._pushes = 0
        self.version = 0

    def put(self, doc_id: str, doc: Doc, *, immediate: bool = False) -> None:
        """Index a new version of a document (now if no lag, else after the lag)."""
        lag = self._lag()
        if immediate or lag <= 0:
            if self._pending:  # older pending versions must not overwrite this one
                self._gen[doc_id] = self._gen.get(doc_id, 0) + 1
            self._show(doc_id, doc)
            return
        self._pushes += 1
        item = (self._now() + lag, self._pushes, doc_id, self._gen.get(doc_id, 0), doc)
        heapq.heappush(self._pending, item)
        self.promote()

    def remove(self, doc_id: str) -> None:
        """Drop a document from search at once (deleted, archived, merged away)."""
        old = self._visible.pop(doc_id, None)
        if old is not None:
            self.version += 1
            if self._on_change is not None:
                self._on_change(old, None)
        if self._pending:
            self._gen[doc_id] = self._gen.get(doc_id, 0) + 1

    def promote(self) -> None:
        """Make every pending version whose time has come visible."""
        if not self._pending:
            return
        now = self._now()
        pending = self._pending
        while pending and pending[0][0] <= now:
            _, _, doc_id, gen, doc = heapq.heappop(pending)
            if gen == self._gen.get(doc_id, 0) and self._alive(doc_id):
                self._show(doc_id, doc)
        if not pending:
            self._gen.clear()

    def _show(self, doc_id: str, doc: Doc) -> None:
        old = self._visible.get(doc_id)
        self._visible[doc_id] = doc
        self.version += 1
        if self._on_change is not None:
            self._on_change(old, doc)

    def docs(self) -> Iterable[Doc]:
        """The documents search sees now."""
        self.promote()
        return self._visible.values()

    def get(self, doc_id: str) -> Doc | None:
        self.promote()
        return self._visible.get(doc_id)

    def __len__(self) -> int:
        return len(self._visible)

    @property
    def pending_count(self) -> int:
        return len(self._pending)
