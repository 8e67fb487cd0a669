"""tap-intercom: settings, the stream list, and the run-wide API client and look-ups."""

from __future__ import annotations

import logging
import sys
import threading
import time
from functools import cached_property
from types import FrameType
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.encoding.simple import Message
from typing_extensions import override

from intercom_api import ClientSettings, ConfigError, IntercomClient, errors
from intercom_api.config_schema import connection_properties
from tap_intercom.client import parse_ts
from tap_intercom.lookups import CompanyNames, TagNames
from tap_intercom.slicing import same_zone, valid_zone
from tap_intercom.streams import STREAM_TYPES

log = logging.getLogger("tap_intercom")
STREAM_NAMES = [s.name for s in STREAM_TYPES]
# The search streams, whose replication key can be created_at ("new records only").
CREATED_AT_STREAMS = ["users", "leads", "conversations", "tickets"]


class BufferedMsgSpecWriter(MsgSpecWriter):
    """The SDK's msgspec writer, flushing stdout only after non-RECORD messages.

    A STATE message always follows the records it covers, so a target never sees a state
    before its records; records no longer cost a flush (a syscall) each.
    """

    writing = False  # a message is being written: a stop signal waits for its end
    pending_signal: int | None = None

    @override
    def write_message(self, message: Message) -> None:
        out = sys.stdout.buffer
        self.writing = True
        try:
            out.write(self.format_message(message))
            if message.__class__ is not RecordMessage:
                sys.stdout.flush()
                out.flush()
        finally:
            self.writing = False
        signum, self.pending_signal = self.pending_signal, None
        if signum is not None:
            raise Interrupted(signum)


class Interrupted(BaseException):
    """SIGTERM / SIGINT, raised where no message is half written (a BaseException, like
    KeyboardInterrupt, so that no ``except Exception`` on the way takes it for an error)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class TapIntercom(Tap):
    """Singer tap for Intercom: contacts, conversations and their parts, companies, tickets and
    the rest of a workspace, incremental and concurrent."""

    name = "tap-intercom"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        *connection_properties(
            max_workers_description=(
                "Threads reading a stream concurrently (search slices, conversation fetches, "
                "activity-log windows), all under the shared rate limiter."
            )
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            description="Earliest replication-key value to extract (ISO 8601), without state.",
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            description="Extract only records whose replication key is before this (ISO 8601).",
        ),
        th.Property(
            "search_lag_margin_seconds",
            th.IntegerType,
            default=600,
            description=(
                "How far behind writes Intercom's search may lag. The saved bookmark never "
                "passes sync start minus this margin, so the next run re-reads that window."
            ),
        ),
        th.Property(
            "replicate_by_created_at",
            th.ArrayType(th.StringType),
            default=[],
            description=(
                "Streams (users, leads, conversations, tickets) replicated by created_at "
                "instead of updated_at: new records only, updates to older records are not "
                "extracted."
            ),
        ),
        th.Property(
            "user_ids",
            th.ArrayType(th.StringType),
            description="Emit only these users (Intercom ids) in stream users; state untouched.",
        ),
        th.Property(
            "lead_ids",
            th.ArrayType(th.StringType),
            description="Emit only these leads (Intercom ids) in stream leads; state untouched.",
        ),
        th.Property(
            "workspace_timezone",
            th.StringType,
            description=(
                "Optional check. The tap reads the workspace's timezone from GET /me "
                "(app.timezone): contact search matches dates by calendar day in that zone, "
                "so day slices follow it. Set this to the zone you expect and a run on a "
                "workspace whose zone differs stops with an error naming both."
            ),
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._sync_started: float | None = None
        self._sync_start_lock = threading.Lock()
        self._sync_start_value: int | None = None
        self._me_value: dict[str, Any] | None = None
        self._timezone: str | None = None
        super().__init__(*args, **kwargs)

    # -- config -----------------------------------------------------------------------------
    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        found = super()._validate_config(raise_errors=False)
        if not found:
            found = self._check_settings()
        if found and raise_errors:
            raise ConfigValidationError(
                "Config validation failed", errors=found, schema=self.config_jsonschema
            )
        return found

    def _check_settings(self) -> list[str]:
        """What JSON Schema cannot say: one clear line per problem, naming the setting."""
        problems: list[str] = []
        try:
            ClientSettings.from_config(self.config)
        except ConfigError as e:
            problems.append(str(e))
        for key in ("start_date", "end_date"):
            if self.config.get(key):
                try:
                    parse_ts(self.config[key])
                except (TypeError, ValueError):
                    problems.append(
                        f"{key} must be an ISO 8601 date-time (got {self.config[key]!r})."
                    )
        tz = self.config.get("workspace_timezone")
        if tz is not None and not valid_zone(tz):
            problems.append(f"workspace_timezone must be an IANA timezone name (got {tz!r}).")
        wrong = set(self.config.get("replicate_by_created_at") or []) - set(CREATED_AT_STREAMS)
        if wrong:
            problems.append(
                f"replicate_by_created_at lists {sorted(wrong)}; only these streams can be "
                f"replicated by created_at: {', '.join(CREATED_AT_STREAMS)}."
            )
        if int(self.config.get("search_lag_margin_seconds", 600)) < 0:
            problems.append("search_lag_margin_seconds must be >= 0.")
        return problems

    # -- run-wide objects -------------------------------------------------------------------
    @cached_property
    def client_settings(self) -> ClientSettings:
        return ClientSettings.from_config(self.config)

    @cached_property
    def client(self) -> IntercomClient:
        return IntercomClient(self.client_settings)

    @cached_property
    def tag_names(self) -> TagNames:
        return TagNames(self.client)

    @cached_property
    def company_names(self) -> CompanyNames:
        return CompanyNames(self.client, self.client_settings.max_workers)

    def _me(self) -> dict[str, Any]:
        """GET /me once per run (cheap; also fails fast on a bad token); {} if unreadable."""
        with self._sync_start_lock:
            if self._me_value is None:
                try:
                    self._me_value = self.client.get("/me")
                except (errors.AuthenticationError, errors.ForbiddenError):
                    raise
                except errors.IntercomError as e:
                    log.warning("could not read GET /me (%s)", e)
                    self._me_value = {}
            return self._me_value

    def sync_start(self) -> int:
        """When this sync started: the earlier of the local clock and the server's (Date)."""
        if self.client.server_clock_offset() is None:
            self._me()  # any answer carries the server's Date
        with self._sync_start_lock:
            if self._sync_start_value is None:
                local = self._sync_started or self.initialized_at / 1000
                offset = self.client.server_clock_offset()
                if offset is None:
                    log.warning("could not read the server clock; using ours")
                self._sync_start_value = int(local + min(0.0, offset or 0.0))
            return self._sync_start_value

    def workspace_timezone(self) -> str:
        """The zone contact search uses for days (FACTS.md §2.6): GET /me's app.timezone.

        The workspace_timezone setting is a check: if it names another zone, the run stops
        (ConfigError) naming both, rather than slicing days on the wrong boundaries.
        """
        if self._timezone is not None:
            return self._timezone
        app = self._me().get("app")
        served = app.get("timezone") if isinstance(app, dict) else None
        configured = self.config.get("workspace_timezone")
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
        self._timezone = zone
        log.info("workspace timezone: %s (contact search days follow it)", zone)
        return zone

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK writes the state from the handler and exits 0: the write can land in the
        # middle of a record being written, and a scheduler (Meltano, cron, Airflow) takes a
        # run stopped halfway for a success. Here the stop is raised where no message is half
        # written; sync_all writes the (safe) state and exits non-zero.
        writer = self.message_writer
        if isinstance(writer, BufferedMsgSpecWriter) and writer.writing:
            writer.pending_signal = signum
            return
        raise Interrupted(signum)

    @override
    def discover_streams(self) -> list[Stream]:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    @override
    def sync_all(self) -> None:
        self._sync_started = time.time()
        try:
            super().sync_all()
        except Interrupted as stop:
            log.warning("stopped by signal %d before the sync finished", stop.signum)
            self._state_writer.write_state(self.state)  # claims only what was emitted
            raise SystemExit(128 + stop.signum) from None
        except (errors.AuthenticationError, errors.ForbiddenError, ConfigError) as e:
            # A settings problem (token, region, zone): one clear line, exit 1, no traceback.
            raise ConfigValidationError(str(e), errors=[str(e)]) from None
        finally:
            if "client" in self.__dict__:
                stats = self.client.stats
                log.info(
                    "API calls: %d (retries %d, rate-limited %d, by status %s)",
                    stats["requests"],
                    stats["retries"],
                    stats["rate_limited"],
                    stats["by_status"],
                )
                if "company_names" in self.__dict__:
                    self.company_names.close()
                self.client.close()
            sys.stdout.flush()


if __name__ == "__main__":
    TapIntercom.cli()
