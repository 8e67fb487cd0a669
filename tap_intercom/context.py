"""RunContext: what every stream of one run shares, handed down by the tap.

Streams never call back up into the tap: they get the settings, the API client, the sync's
start, the workspace's facts (GET /me: the server clock and timezone), the shared look-ups
and the run's one pool of request threads from here. Everything is created on first use, so
discovery and ``--about`` make no call; ``prepare`` creates the shared parts before streams
run side by side.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from intercom_api import ClientSettings, ConfigError, IntercomClient, errors
from intercom_api.pagination import Scroll
from intercom_api.pool import RequestPool
from tap_intercom.lookups import CompanyNames, TagNames
from tap_intercom.options import TapOptions
from tap_intercom.permissions import Refusals
from tap_intercom.slicing import same_zone, valid_zone

log = logging.getLogger("tap_intercom")

# Requests in flight at most, whatever the latency (unless max_workers asks for more): 32
# keep Intercom's default budget (10,000 a minute) busy up to about 190 ms a request.
POOL_CEILING = 32


class RunContext:
    """One run's settings, client, clock and workspace facts (thread-safe, lazy)."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self._config = config
        self._lock = threading.RLock()
        self.started_at: float = time.time()  # reset by the tap when the sync starts
        self._sync_start: int | None = None
        self._me: dict[str, Any] | None = None
        self._timezone: str | None = None
        # The company scroll of this run (one per app, FACTS.md §4): the last one the
        # companies stream opened, whose ids company_segments reuses.
        self.company_scroll: Scroll | None = None

    # -- settings and the API -----------------------------------------------------------------
    @cached_property
    def options(self) -> TapOptions:
        return TapOptions.from_config(self._config)

    @cached_property
    def client_settings(self) -> ClientSettings:
        return ClientSettings.from_config(self._config)

    @cached_property
    def client(self) -> IntercomClient:
        return IntercomClient(self.client_settings)

    @property
    def max_workers(self) -> int:
        return self.client_settings.max_workers

    @cached_property
    def pool(self) -> RequestPool:
        """The run's one pool of request threads (``intercom_api.pool``): every request any
        stream makes side by side runs there. At least ``max_workers`` in flight, more while
        the measured latency needs them to keep the rate budget busy, at most POOL_CEILING."""
        client, floor = self.client, self.max_workers
        ceiling = max(floor, POOL_CEILING)
        return RequestPool(
            lambda: client.concurrency_for_budget(floor=floor, ceiling=ceiling),
            ceiling=ceiling,
            name="tap-intercom",
        )

    @cached_property
    def permissions(self) -> Refusals:
        """The streams skipped for a missing permission (tap_intercom/permissions.py)."""
        return Refusals(strict=self.options.strict_permissions)

    @cached_property
    def tag_names(self) -> TagNames:
        return TagNames(self.client)

    @cached_property
    def company_names(self) -> CompanyNames:
        return CompanyNames(self.client, self.pool, self.max_workers)

    def prepare(self) -> None:
        """Create the shared parts now, on one thread, before streams run side by side."""
        for part in ("options", "client", "pool", "permissions", "tag_names", "company_names"):
            getattr(self, part)

    # -- the clock and the workspace ----------------------------------------------------------
    def me(self) -> dict[str, Any]:
        """GET /me once per run (cheap; also fails fast on a bad token); {} if unreadable."""
        with self._lock:
            if self._me is None:
                try:
                    self._me = self.client.get("/me")
                except (errors.AuthenticationError, errors.ForbiddenError):
                    raise
                except errors.IntercomError as e:
                    log.warning("could not read GET /me (%s)", e)
                    self._me = {}
            return self._me

    def sync_start(self) -> int:
        """When this sync started: the earlier of the local clock and the server's (Date)."""
        if self.client.server_clock_offset() is None:
            self.me()  # any answer carries the server's Date
        with self._lock:
            if self._sync_start is None:
                offset = self.client.server_clock_offset()
                if offset is None:
                    log.warning("could not read the server clock; using ours")
                self._sync_start = int(self.started_at + min(0.0, offset or 0.0))
            return self._sync_start

    def workspace_timezone(self) -> str:
        """The zone contact search uses for days (FACTS.md §2.6): GET /me's app.timezone.

        The workspace_timezone setting is a check: if it names another zone, the run stops
        (ConfigError) naming both, rather than slicing days on the wrong boundaries.
        """
        with self._lock:
            if self._timezone is None:
                self._timezone = self._read_timezone()
            return self._timezone

    def _read_timezone(self) -> str:
        app = self.me().get("app")
        served = app.get("timezone") if isinstance(app, dict) else None
        configured = self.options.workspace_timezone
        if isinstance(served, str) and valid_zone(served):
            if configured and not same_zone(configured, served):
                raise ConfigError(
                    "workspace_timezone",
                    f"workspace_timezone is {configured!r} but Intercom says this workspace's "
                    f"timezone is {served!r} (GET /me, app.timezone). Contact search matches "
                    f"dates by day in the workspace's zone: remove the workspace_timezone "
                    f"setting or set it to {served!r}.",
                )
            zone = served
        elif configured:
            log.warning(
                "GET /me gave no usable app.timezone (%r); using workspace_timezone %r",
                served,
                configured,
            )
            zone = configured
        else:
            log.warning(
                "GET /me gave no usable app.timezone (%r); contact days are taken as UTC. "
                "Set workspace_timezone to the workspace's zone (Settings > General).",
                served,
            )
            zone = "UTC"
        log.info("workspace timezone: %s (contact search days follow it)", zone)
        return zone

    # -- the end ------------------------------------------------------------------------------
    def close(self) -> None:
        """Log the run's API figures and release threads and connections."""
        if "client" not in self.__dict__:
            return
        stats = self.client.stats
        log.info(
            "API calls: %d (retries %d, rate-limited %d, by status %s)",
            stats["requests"],
            stats["retries"],
            stats["rate_limited"],
            stats["by_status"],
        )
        if "pool" in self.__dict__:
            self.pool.shutdown(wait=False, cancel_futures=True)
            log.info("request threads: %d at most", self.pool.peak_threads)
        self.client.close()
