"""Stream `deleted_conversations`: GET /conversations/deleted (new in API 2.16, FACTS.md §3).

A deleted conversation vanishes from list, search and GET, so this list is the only way a
warehouse learns of it. Records carry the id and ``_sdc_deleted_at``: a target that honours
soft deletes (the Singer ``_sdc_deleted_at`` convention) can apply them to its
``conversations`` table, e.g. with a stream alias.

The list is page-numbered (60 per page at most) and the spec does not say which key its
``order`` sorts on (deletion time or id), so no page can be skipped: every run reads every
page, oldest first, and keeps the deletions after the bookmark. Oldest first also means a
deletion made during the run lands on a later page and shifts nothing already read, so the
pages after the first are fetched concurrently.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from typing_extensions import override

from intercom_api import errors
from tap_intercom.streams.listing import ListStream, Page, next_page_params, ordered_map

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

    def _page(self, number: int) -> dict[str, Any]:
        params = {"page": number, "per_page": PER_PAGE, "order": "asc"}
        try:
            return self.client.get(PATH, params)
        except errors.BadRequestError as e:
            if e.code == "intercom_version_invalid":
                raise self._version_error() from None
            raise

    def _version_error(self) -> errors.ConfigError:
        version = self.intercom_tap.client_settings.intercom_version
        return errors.ConfigError(
            "intercom_version",
            f"stream deleted_conversations needs intercom_version 2.16 or later (set to "
            f"{version!r}); raise it or deselect the stream",
        )

    @override
    def fetch(self, start: int | None, end: int | None) -> Iterator[Page]:
        version = _version(self.intercom_tap.client_settings.intercom_version)
        if version is not None and version < MIN_VERSION:
            raise self._version_error()
        first = self._page(1)
        yield first.get(self.list_key) or []
        pages = first.get("pages") or {}
        total = pages.get("total_pages") if isinstance(pages, dict) else None
        if not isinstance(total, int):
            # No page count: follow the links one by one.
            number, data = 1, first
            while (nxt := next_page_params(data.get("pages"), number)) and "page" in nxt:
                if nxt["page"] <= number:
                    break
                number = nxt["page"]
                data = self._page(number)
                records = data.get(self.list_key) or []
                if not records:
                    break
                yield records
            return
        workers = max(1, min(self.max_workers, total - 1))
        with ThreadPoolExecutor(workers, thread_name_prefix="tap-intercom-deleted") as pool:
            for data in ordered_map(self._page, range(2, total + 1), pool, 2 * workers):
                yield data.get(self.list_key) or []

    @override
    def prepare(self, record: dict[str, Any]) -> None:
        # The Singer soft-delete marker; converted to ISO 8601 with deleted_at.
        record["_sdc_deleted_at"] = record.get("deleted_at")
