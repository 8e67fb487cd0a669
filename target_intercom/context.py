"""The run context: what the target hands down to every sink it creates.

Data flows down (DESIGN.md): a sink never calls back into the target object. The target
creates one ``RunContext`` per run and each sink takes it when the SDK constructs the sink;
through it a sink reaches the API client and caches (``workspace``), the validated settings,
the outcome tally, the rejects and results files, a way to write the pending records of the
streams it depends on (``drain``), and the position of the input record the SDK is handing
it (``position``: the SDK's ``process_record`` passes the record after stream maps, not the
record as received nor its line number, which the rejects file keeps).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk.singerlib.json import serialize_json

from intercom_api import ClientSettings
from target_intercom.outcomes import (
    KEPT,
    Outcome,
    Reject,
    Tally,
    TooManyRejectsError,
)
from target_intercom.runfiles import RunFile
from target_intercom.settings import TargetOptions
from target_intercom.workspace import Workspace

UNREADABLE = "(unreadable lines)"  # the tally's name for lines that are not Singer messages
LOGGED = 50  # rejects (and skipped rows) logged one by one; the rest are counted


@dataclass
class InputPosition:
    """The input record being processed: its stream, the record as received, its line."""

    stream: str = ""
    record: Any = None
    line: int | None = None
    source: str | None = None  # "<BATCH file URI>#<row>" for records read from a BATCH file


class RunContext:
    """One run's shared state and services (see the module docstring)."""

    def __init__(
        self,
        options: TargetOptions,
        logger: logging.Logger,
        settings: Callable[[], ClientSettings],
        drain: Callable[[Iterable[str]], None],
    ) -> None:
        self.run_id = uuid.uuid4().hex[:12]
        self.options = options
        self.logger = logger
        self.tally = Tally()
        self.rejects = RunFile(options.rejects_file, self.run_id)
        self.results = RunFile(options.results_file, self.run_id) if options.results_file else None
        self.position = InputPosition()
        self._settings = settings
        self._drain = drain
        self._workspace: Workspace | None = None
        self._lock = threading.Lock()
        self._logged: dict[str, int] = {}

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    @property
    def workspace(self) -> Workspace:
        """The run's API client, write threads and caches; created on first use."""
        with self._lock:
            if self._workspace is None:
                self._workspace = Workspace(self._settings(), self.options, self.logger)
            return self._workspace

    @property
    def workspace_started(self) -> Workspace | None:
        return self._workspace

    def drain(self, streams: Iterable[str]) -> None:
        """Write the pending records of ``streams`` now (a sink's dependencies)."""
        self._drain(streams)

    def batch_done(self, stream: str, size: int) -> None:
        counts = self.tally.as_dict().get(stream, {})
        done = ", ".join(f"{n} {o}" for o, n in counts.items() if n) or "none"
        self.logger.info("%s: batch of %d records done (%s)", stream, size, done)

    # -- rejects and results ------------------------------------------------------------------
    def reject(
        self,
        *,
        stream: str | None,
        reason: str,
        tally_stream: str | None = None,
        record: Any = None,
        line: str | None = None,
        line_number: int | None = None,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        outcome: Outcome = Outcome.REJECTED,
        source: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        """Keep one record in the rejects file, count it, and fail the run past
        ``max_rejects``.

        Past the limit the error that caused the reject is raised (so a fail-fast run stops
        with the SDK's own exception types), else TooManyRejectsError.
        """
        assert outcome in KEPT
        self.rejects.write(
            Reject(
                stream, reason, record, line, line_number, code, status, request_id, outcome, source
            ).to_dict()
        )
        self.tally.add(tally_stream or stream or UNREADABLE, outcome)
        total = self.tally.rejected
        if total <= LOGGED:
            where = f"line {line_number}" if line_number else "a record"
            of = f" of stream {stream}" if stream else ""
            verb = "Rejected" if outcome is Outcome.REJECTED else "Outcome unknown for"
            self.logger.warning("%s %s%s: %s", verb, where, of, reason)
        elif total == LOGGED + 1:
            self.logger.warning("More rejects: see %s (the summary counts them)", self.rejects.path)
        limit = self.options.max_rejects
        if limit is not None and total > limit:
            self.logger.error(
                "%d records rejected, more than max_rejects=%d: stopping (rejects are in %s)",
                total,
                limit,
                self.rejects.path,
            )
            if cause is not None:
                raise cause
            raise TooManyRejectsError(
                f"{total} records rejected, more than max_rejects={limit}; last: {reason} "
                f"(all rejects are in {self.rejects.path})"
            )

    def result(
        self,
        *,
        stream: str,
        outcome: Outcome,
        keys: Mapping[str, Any],
        line_number: int | None,
        intercom_id: str | None = None,
        request_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """One line of the results file (when results_file is set)."""
        if self.results is None:
            return
        row: dict[str, Any] = {
            "stream": stream,
            "line_number": line_number,
            "keys": dict(keys),
            "outcome": outcome.value,
            "intercom_id": intercom_id,
            "request_id": request_id,
        }
        if reason:
            row["reason"] = reason
        if self.dry_run:
            row["dry_run"] = True
        self.results.write(row)

    def log_limited(self, kind: str, message: str, *args: Any) -> None:
        """Log the first LOGGED occurrences of ``kind``, then one line saying where the
        rest are."""
        with self._lock:
            n = self._logged[kind] = self._logged.get(kind, 0) + 1
        if n <= LOGGED:
            self.logger.info(message, *args)
        elif n == LOGGED + 1:
            where = f"all are in {self.results.path}" if self.results else "set results_file"
            self.logger.info("More %s rows: the summary counts them (%s)", kind, where)

    def sync(self) -> None:
        """Flush the run files to disk (before a STATE covers their records)."""
        self.rejects.sync()
        if self.results is not None:
            self.results.sync()

    # -- end of run -----------------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Outcomes per stream, for the end-of-run log and for tests."""
        results = self.results
        return {
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "state_emitted": not self.dry_run,
            "streams": self.tally.as_dict(),
            "notes": self.tally.notes(),
            "rejects_file": str(self.rejects.path) if self.rejects.written else None,
            "results_file": str(results.path) if results and results.written else None,
        }

    def finish(self, failed: bool, notes: Mapping[str, str]) -> None:
        """Log the summary, close the files and the client."""
        mode = "dry run (nothing written)" if self.dry_run else "run"
        end = " (stopped by an error: no STATE covers its last batch)" if failed else ""
        self.logger.info("Summary of the %s %s%s:", mode, self.run_id, end)
        for line in self.tally.lines() or ["no records"]:
            self.logger.info("  %s", line)
        for stream, counts in self.tally.notes().items():
            for what, n in counts.items():
                text = notes.get(what, what)
                self.logger.warning("  %s: %d %s", stream, n, text)
        if self.dry_run:
            self.logger.info(
                "  dry run: no STATE emitted, so the next real run starts from the same place"
            )
        for f, what in ((self.rejects, "rejects"), (self.results, "results")):
            if f is not None and f.rotated_to is not None:
                self.logger.info("The previous run's %s file was kept as %s", what, f.rotated_to)
        if self.rejects.written:
            self.logger.warning("%d rejects written to %s", self.rejects.written, self.rejects.path)
        if self.results is not None and self.results.written:
            self.logger.info("%d results written to %s", self.results.written, self.results.path)
        self.logger.info("Summary (JSON): %s", serialize_json(self.summary()))
        self.rejects.close()
        if self.results is not None:
            self.results.close()
        if self._workspace is not None:
            self.logger.info("Intercom API: %s", serialize_json(self._workspace.client.stats))
            self._workspace.close()
            self._workspace = None
