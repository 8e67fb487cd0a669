"""Stream `deleted_conversations`: GET /conversations/deleted (new in API 2.16, FACTS.md §3).

A deleted conversation vanishes from list, search and GET, so this list is the only way a
warehouse learns of it. Records carry the id and ``_sdc_deleted_at``: a target that honours
soft deletes (the Singer ``_sdc_deleted_at`` convention) can apply them to its
``conversations`` table, e.g. with a stream alias.

The list is page-numbered (60 per page at most) and the spec does not say which key its
``order`` sorts on (deletion time or id), so no page can be skipped: every run reads every
page, oldest first, and keeps the deletions after the bookmark. Oldest first also means a
deletion made during the run lands on a later page and shifts nothing already read, so the
pages after the first are fetched concurrently (``intercom_api.pagination.numbered_pages``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from typing_extensions import override

from intercom_api import errors
from intercom_api.pagination import Page, numbered_pages
from tap_intercom.streams.listing import ListStream

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
        yield from numbered_pages(
            self._page,
            PATH,
            list_key=self.list_key,
            params={"per_page": PER_PAGE, "order": "asc"},
            workers=self.max_workers,
            thread_name="tap-intercom-deleted",
        )

    @override
    def prepare(self, record: dict[str, Any]) -> None:
        # The Singer soft-delete marker; converted to ISO 8601 with deleted_at.
        record["_sdc_deleted_at"] = record.get("deleted_at")
