"""Stream `deleted_conversations`: GET /conversations/deleted (new in API 2.16, FACTS.md §3).

A deleted conversation vanishes from list, search and GET, so this list is the only way a
warehouse learns of it. Records carry the id and ``_sdc_deleted_at``: a target that honours
soft deletes (the Singer ``_sdc_deleted_at`` convention) can apply them to its
``conversations`` table, e.g. with a stream alias.

The list is page-numbered (60 per page at most). A first run reads every page oldest first
(a deletion made during the run lands on a later page and shifts nothing already read, so
the pages after the first are fetched concurrently). A run with a bookmark reads newest
first and stops at the first page that reaches back to the bookmark, so a two-minute
schedule pays for what was deleted since, not for every deletion ever made. The spec says
only that ``order`` returns "the conversation IDs in ascending or descending order": the
read checks that the pages really come newest deletion first, and where they do not (a
sort by id), reads every page instead.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Generator, Iterator, Mapping
from typing import Any

from typing_extensions import override

from intercom_api import errors
from intercom_api.pagination import Page, numbered_pages, walk_numbered
from tap_intercom.streams.listing import ListStream

log = logging.getLogger("tap_intercom")

PATH = "/conversations/deleted"
PER_PAGE = 60  # the maximum (FACTS.md §3)
MIN_VERSION = (2, 16)


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(x) for x in text.split("."))
    except ValueError:
        return None  # e.g. "Preview": let the API decide


class DeletedConversationsStream(ListStream):
    """Ids of deleted conversations, incremental on ``deleted_at``."""

    name = "deleted_conversations"
    list_key = "conversations"
    incremental_key = "deleted_at"

    def _page(self, params: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self.client.get(PATH, params)
        except errors.BadRequestError as e:
            if e.code == "intercom_version_invalid":
                raise self._version_error() from None
            raise

    def _version_error(self) -> errors.ConfigError:
        version = self.run.client_settings.intercom_version
        return errors.ConfigError(
            "intercom_version",
            f"stream deleted_conversations needs intercom_version 2.16 or later (set to "
            f"{version!r}); raise it or deselect the stream",
        )

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        version = _version(self.run.client_settings.intercom_version)
        if version is not None and version < MIN_VERSION:
            raise self._version_error()
        if start is not None:
            pages = yield from self._newest_first(start)
            if pages is not None:
                return
        yield from numbered_pages(
            self._page,
            PATH,
            list_key=self.list_key,
            params={"per_page": PER_PAGE, "order": "asc"},
            pool=self.run.pool,
            window=self.run.pool.width(),
        )

    def _newest_first(self, start: int) -> Generator[Page, None, int | None]:
        """With a bookmark: newest deletions first, stopping at the first page that reaches
        back to it, if the pages really come newest first. Returns the pages read, or None
        when the order is not by deletion time (the spec does not say what ``order`` sorts
        on): then the full read follows, and what this read emitted is emitted again
        (at-least-once; targets key on the id)."""
        newest = None
        pages = 0
        for page in walk_numbered(
            lambda _path, query: self._page(query),
            PATH,
            list_key=self.list_key,
            params={"per_page": PER_PAGE, "order": "desc"},
        ):
            pages += 1
            stamps = [r["deleted_at"] for r in page if isinstance(r.get("deleted_at"), int)]
            if any(a < b for a, b in itertools.pairwise(stamps)) or (
                newest is not None and stamps and stamps[0] > newest
            ):
                log.warning(
                    "deleted_conversations: order=desc does not sort by deleted_at here; "
                    "reading every page"
                )
                return None
            if stamps:
                newest = stamps[-1]
            yield page
            if stamps and stamps[-1] < start:
                break  # older pages hold only deletions emitted by earlier runs
        return pages

    @override
    def prepare(self, record: dict[str, Any]) -> None:
        # The Singer soft-delete marker; converted to ISO 8601 with deleted_at.
        record["_sdc_deleted_at"] = record.get("deleted_at")
