"""tap-intercom: the settings, the stream list, and the run context handed to every stream."""

from __future__ import annotations

import logging
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
from tap_intercom.sdk_hooks import BufferedMsgSpecWriter, ExtraConfigChecks, SafeTermination
from tap_intercom.streams import STREAM_TYPES

log = logging.getLogger("tap_intercom")
STREAM_NAMES = [s.name for s in STREAM_TYPES]


class TapIntercom(SafeTermination, ExtraConfigChecks, Tap):
    """Singer tap for Intercom: contacts, conversations and their parts, companies, tickets and
    the rest of a workspace, incremental and concurrent."""

    name = "tap-intercom"
    package_name = "intercom-singer"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        *connection_properties(
            max_workers_description=(
                "Threads reading a stream concurrently (search slices, conversation fetches, "
                "activity-log windows), all under the shared rate limiter."
            )
        ),
        *options.config_properties(),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._run: RunContext | None = None
        super().__init__(*args, **kwargs)

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

        def stopped(signum: int) -> None:
            log.warning("stopped by signal %d before the sync finished", signum)

        try:
            self.run_interruptible(super().sync_all, stopped)
            self.run.permissions.log_summary()  # the streams skipped for a missing permission
        except (errors.AuthenticationError, errors.ForbiddenError, ConfigError) as e:
            # A settings problem (token, region, zone): one clear line, exit 1, no traceback.
            raise ConfigValidationError(str(e), errors=[str(e)]) from None
        finally:
            self.run.close()
            sys.stdout.flush()


if __name__ == "__main__":
    TapIntercom.cli()
