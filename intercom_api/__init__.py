"""The one HTTP layer of the project, shared by tap-intercom and target-intercom.

Contract: /work/briefs/api_contract.md (ClientSettings, IntercomClient, ConfigError, errors,
query). Notes on choices within it:

- The "one limiter per process" is one per app: a registry keyed by base URL and a hash of
  the token, so two workspaces (or two sandboxes) in one process do not throttle each other.
  ``IntercomClient(settings, limiter=...)`` takes an explicit limiter (tests).
- ``ClientSettings`` also carries ``backoff_base``, ``backoff_cap`` and ``max_retry_seconds``
  (tuning, not config keys; defaults 0.5 s, 30 s, 300 s).
- ``q.and_`` / ``q.or_`` of a single item return that item (saves a nesting level).
- ``q.in_chunks`` defaults to 15 values per IN filter (no documented array limit).
- Additions: ``client.search(path, query, *, sort, per_page, starting_after) -> dict`` returns
  one whole search page (``total_count``, ``pages``); ``iter_search`` also takes
  ``starting_after``; ``intercom_api.client.next_cursor(page)`` reads a page's cursor;
  ``client.server_clock_offset()`` = server Date minus local clock at receipt;
  ``request(..., raw=True)`` / ``search_raw`` leave a success's body unparsed
  (``ApiResponse.content``) for callers that decode it themselves.
"""

from __future__ import annotations

from intercom_api import errors, query
from intercom_api.client import ApiResponse, IntercomClient
from intercom_api.errors import ConfigError
from intercom_api.ratelimit import RateLimiter
from intercom_api.settings import REGION_URLS, ClientSettings

__all__ = [
    "REGION_URLS",
    "ApiResponse",
    "ClientSettings",
    "ConfigError",
    "IntercomClient",
    "RateLimiter",
    "errors",
    "query",
]
