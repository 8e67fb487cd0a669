"""tap-intercom: the settings, the stream list, and the run context handed to every stream."""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import sys
import time
from typing import Any

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from typing_extensions import override

from intercom_api import ConfigError, errors
from intercom_api.config_schema import connection_properties
from tap_intercom import options
from tap_intercom.client import IntercomStream
from tap_intercom.context import RunContext
from tap_intercom.scheduler import run_side_by_side
from tap_intercom.sdk_hooks import (
    BufferedMsgSpecWriter,
    ExtraConfigChecks,
    Interrupted,
    SafeTermination,
    SideBySideSync,
)
from tap_intercom.streams import STREAM_TYPES

log = logging.getLogger("tap_intercom")
STREAM_NAMES = [s.name for s in STREAM_TYPES]
M_ARENA_MAX = -8  # glibc's mallopt parameter (malloc.h)


def limit_malloc_arenas(arenas: int = 2) -> None:
    """Two malloc arenas for the whole run, unless MALLOC_ARENA_MAX says otherwise.

    glibc gives each thread that allocates an arena of its own (up to 8 per core) and hands
    little of it back: with the run's request threads and a thread per stream, peak RSS was
    about 10 MB higher than one stream at a time (benchmarks/bench_tap.py at 100 ms: 92 MB;
    82 MB with two arenas, as before the streams ran side by side; CPU within noise).
    Set before the threads start; a no-op off glibc.
    """
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).mallopt(M_ARENA_MAX, arenas)


class TapIntercom(SafeTermination, SideBySideSync, ExtraConfigChecks, Tap):
    """Singer tap for Intercom: contacts, conversations and their parts, companies, tickets and
    the rest of a workspace, incremental and concurrent."""

    name = "tap-intercom"
    package_name = "intercom-singer"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        *connection_properties(
            max_workers_description=(
                "The fewest requests in flight: the run's one pool of request threads, shared "
                "by every stream (search pages, conversation fetches, look-ups), all under "
                "the shared rate limiter; more while the measured latency needs them to keep "
                "the rate budget busy, at most 32 (or max_workers). One search stream keeps "
                "at most this many of its pages in flight."
            )
        ),
        *options.config_properties(),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._run: RunContext | None = None
        super().__init__(*args, **kwargs)
        self.use_stream_state_writer()

    @property
    def run(self) -> RunContext:
        """This run's context (settings, client, clock, workspace facts), made once."""
        if self._run is None:
            self._run = RunContext(self.config)
        return self._run

    @override
    def extra_config_problems(self) -> list[str]:
        return [str(e) for e in options.problems(self.config)]

    @override
    def discover_streams(self) -> list[Stream]:
        return [
            stream_type(self, self.run)
            if issubclass(stream_type, IntercomStream)
            else stream_type(self)
            for stream_type in STREAM_TYPES
        ]

    @override
    def sync_all(self) -> None:
        self.run.started_at = time.time()
        limit_malloc_arenas()

        def stopped(signum: int) -> None:
            log.warning("stopped by signal %d before the sync finished", signum)

        try:
            self.run_interruptible(self._sync_streams, stopped)
            self.run.permissions.log_summary()  # the streams skipped for a missing permission
        except (errors.AuthenticationError, errors.ForbiddenError, ConfigError) as e:
            # A settings problem (token, region, zone): one clear line, exit 1, no traceback.
            raise ConfigValidationError(str(e), errors=[str(e)]) from None
        finally:
            with contextlib.suppress(Interrupted):
                self.message_writer.flush_thread()  # records this thread wrote, if any
            self.run.close()
            sys.stdout.flush()

    def _sync_streams(self) -> None:
        """The selected streams, side by side (tap_intercom/scheduler.py)."""
        streams = self.selected_streams()
        self.run.prepare()
        width = self.run.options.parallel_streams
        if len(streams) > 1 and width > 1:
            # GET /me first: a bad token fails here, once, not in every stream at once. A
            # stream that needs GET /me and may not read it says so itself.
            with contextlib.suppress(errors.ForbiddenError):
                self.run.sync_start()

        def stop(signum: int) -> None:
            self.message_writer.stop_writes(signum)
            self.run.pool.stop()

        try:
            run_side_by_side(
                streams,
                width=width,
                sync_one=self.sync_one,  # type: ignore[arg-type]
                on_stop=stop,
            )
        except Exception:
            self.after_streams(failed=True)
            raise
        self.after_streams(failed=False)


if __name__ == "__main__":
    TapIntercom.cli()
