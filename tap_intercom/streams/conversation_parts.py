"""Stream `conversation_parts`: the parts of every conversation updated since the bookmark.

Parts exist only inside GET /conversations/{id} (search and list items have none, FACTS.md
§3), so the stream searches conversations exactly as `conversations` does (sorted on
``updated_at``, cut into slices, walked side by side) and, for each page of changed
conversations, fetches them concurrently on the run's request pool (sized to keep the one
rate budget busy at the measured latency: ``intercom_api.pool``). One call per
changed conversation, plus one search page per 150; the `conversations` stream is untouched
(and pays nothing) when parts are not selected.

- The bookmark is the conversations' ``updated_at`` (``conversation_updated_at`` on every
  part): the search reader's watermark, as for the core streams.
- A conversation is fetched again only if it changed: the search lag margin makes each run
  re-read the last minutes before the previous one, so the state remembers which
  conversations of that overlap were fetched, at which ``updated_at`` (``fetched``).
- A conversation deleted between search and fetch (404) is skipped with a log line.
- Intercom returns only the 500 most recent parts of a conversation (FACTS.md §3): when
  ``total_count`` says there are more, a warning names the conversation and how many
  parts are missing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from typing_extensions import override

from intercom_api import errors
from tap_intercom.options import parse_ts
from tap_intercom.planner import Unit
from tap_intercom.search import SearchStream

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers import types

    from tap_intercom.context import RunContext

log = logging.getLogger("tap_intercom")

FETCHED_KEY = "fetched"  # state: conversation id -> updated_at, for the overlap window


class ConversationPartsStream(SearchStream):
    """One record per conversation part, with its ``conversation_id``."""

    name = "conversation_parts"
    search_path = "/conversations/search"
    list_key = "conversations"
    day_granular = False
    selected_by_default = False  # one call per changed conversation: chosen, not implied
    primary_keys: ClassVar[list[str]] = ["conversation_id", "id"]  # type: ignore[misc]
    # The field searched, sliced and watermarked: the conversations' updated_at. The
    # replication key (what the bookmark is called) is its copy on every part.
    search_key: ClassVar[str] = "updated_at"

    def __init__(self, tap: Tap, run: RunContext) -> None:
        super().__init__(tap, run)
        self.replication_key = "conversation_updated_at"
        self._lock = threading.Lock()
        self._known: dict[str, int] = {}  # from the state: fetched by an earlier run
        self._fetched_now: dict[str, int] = {}
        self.counts = {"fetched": 0, "unchanged": 0, "deleted": 0, "truncated": 0}

    # -- reading ----------------------------------------------------------------------------
    @override
    def get_records(self, context: types.Context | None) -> Iterable[dict[str, Any]]:
        state = self.get_context_state(context)
        known = state.get(FETCHED_KEY)
        self._known = (
            {str(k): v for k, v in known.items() if isinstance(v, int)}
            if isinstance(known, dict) and state.get("replication_key") == self.replication_key
            else {}
        )
        self._fetched_now = {}
        self.counts = dict.fromkeys(self.counts, 0)
        yield from super().get_records(context)
        self._remember_fetched(state)
        self.logger.info(
            "conversation_parts: %(fetched)d conversations fetched, %(unchanged)d unchanged "
            "since the last run (not fetched), %(deleted)d deleted before their fetch, "
            "%(truncated)d with more parts than Intercom returns",
            self.counts,
        )

    def _remember_fetched(self, state: dict[str, Any]) -> None:
        """Keep, in the state, the conversations fetched after the new bookmark."""
        mark = state.get("replication_key_value")
        floor = parse_ts(mark) if isinstance(mark, str) else None
        merged = {**self._known, **self._fetched_now}
        state[FETCHED_KEY] = {cid: ts for cid, ts in merged.items() if floor is None or ts > floor}

    @override
    def shape(self, page: list[dict[str, Any]], unit: Unit, seen: set[str]) -> list[dict[str, Any]]:
        """Keep the unit's conversations, fetch them (side by side on the run's pool), emit
        their parts."""
        key = self.search_key
        todo: list[tuple[str, int]] = []
        unchanged = 0
        for rec in page:
            ts = rec.get(key)
            if not isinstance(ts, (int, float)):
                log.warning("%s: conversation %s has no %s; skipped", self.name, rec.get("id"), key)
                continue
            ts = int(ts)
            cid = str(rec.get("id"))
            if not unit.contains(ts) or cid in seen:
                continue  # another slice's, or already read
            seen.add(cid)
            if self._known.get(cid) == ts:
                unchanged += 1  # fetched by the previous run at this very updated_at
                continue
            todo.append((cid, ts))
        if unchanged:
            with self._lock:
                self.counts["unchanged"] += unchanged
        if not todo:
            return []
        out: list[dict[str, Any]] = []
        for (cid, ts), conv in zip(todo, self.run.pool.map(self._fetch, todo), strict=True):
            if conv is not None:
                out.extend(self._parts(cid, ts, conv))
        return out

    def _fetch(self, item: tuple[str, int]) -> dict[str, Any] | None:
        """GET /conversations/{id} (on a pool thread); None if it was deleted."""
        cid, ts = item
        try:
            conv = self.client.get(f"/conversations/{quote(cid, safe='')}")
        except errors.NotFoundError:
            log.info(
                "%s: conversation %s was deleted after the search listed it; skipped",
                self.name,
                cid,
            )
            with self._lock:
                self.counts["deleted"] += 1
            return None
        with self._lock:
            self.counts["fetched"] += 1
            self._fetched_now[cid] = ts
        return conv

    def _parts(self, cid: str, listed_ts: int, conv: dict[str, Any]) -> list[dict[str, Any]]:
        block = conv.get("conversation_parts") or {}
        parts = [p for p in block.get("conversation_parts") or [] if isinstance(p, dict)]
        total = block.get("total_count")
        if isinstance(total, int) and total > len(parts):
            # Only the 500 most recent parts come back (FACTS.md §3).
            log.warning(
                "%s: conversation %s has %d parts but Intercom returns only the %d most "
                "recent; its %d oldest parts are not extracted",
                self.name,
                cid,
                total,
                len(parts),
                total - len(parts),
            )
            with self._lock:
                self.counts["truncated"] += 1
        updated = conv.get("updated_at")
        if not isinstance(updated, int):
            updated = listed_ts
        convert = self._convert
        out = []
        for part in parts:
            rec = {**part, "conversation_id": cid, "conversation_updated_at": updated}
            convert(rec)
            out.append(rec)
        return out
