"""Record outcomes, rejects, and the per-stream tally logged at the end of a run.

Every record read ends in exactly one outcome: created, updated, unchanged (found identical:
no write), archived, deleted (``delete_mode: delete``), skipped (``write_mode``: no match
under update_only, or already there under create_only), ambiguous (a write whose outcome is
unknown and that must not be re-sent blindly, e.g. an event) or rejected. Rejected and
ambiguous records go to the rejects file (JSON lines) with what is needed to fix and replay
them: the record as received, its stream, the reason, and Intercom's error code, HTTP status
and request id when Intercom answered.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Outcome(str, Enum):
    """What happened to one record (in a dry run: what would have happened)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ARCHIVED = "archived"
    DELETED = "deleted"
    SKIPPED_NO_MATCH = "skipped_no_match"  # write_mode update_only: nothing to update
    SKIPPED_EXISTS = "skipped_exists"  # write_mode create_only: left as it is
    AMBIGUOUS = "ambiguous"  # sent, outcome unknown: kept in the rejects file, not re-sent
    REJECTED = "rejected"


KEPT = (Outcome.REJECTED, Outcome.AMBIGUOUS)  # outcomes whose records go to the rejects file


class RecordRejected(Exception):
    """Raised while handling one record: the record is rejected, the run goes on."""

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        outcome: Outcome = Outcome.REJECTED,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status
        self.request_id = request_id
        self.outcome = outcome


class TooManyRejectsError(RuntimeError):
    """More records were rejected than ``max_rejects`` allows: the run fails."""


@dataclass(frozen=True)
class Reject:
    """One line of the rejects file."""

    stream: str | None
    reason: str
    record: Any = None
    line: str | None = None  # the raw input line, when it could not be parsed
    line_number: int | None = None
    error_code: str | None = None
    status: int | None = None
    request_id: str | None = None
    outcome: Outcome = Outcome.REJECTED
    source: str | None = None  # a BATCH file and row, for records read from one

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "stream": self.stream,
            "outcome": self.outcome.value,
            "reason": self.reason,
            "error_code": self.error_code,
            "status": self.status,
            "request_id": self.request_id,
            "line_number": self.line_number,
            "record": self.record,
        }
        if self.source is not None:
            out["source"] = self.source
        if self.line is not None:
            out["line"] = self.line
        return out


class Tally:
    """Outcome counts per stream, and notes (counts a user must know about), thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[Outcome, int]] = defaultdict(lambda: dict.fromkeys(Outcome, 0))
        self._notes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, stream: str, outcome: Outcome, count: int = 1) -> None:
        with self._lock:
            self._counts[stream][outcome] += count

    def note(self, stream: str, what: str, count: int = 1) -> None:
        with self._lock:
            self._notes[stream][what] += count

    def get(self, stream: str, outcome: Outcome) -> int:
        with self._lock:
            return self._counts[stream][outcome] if stream in self._counts else 0

    @property
    def rejected(self) -> int:
        """Records kept in the rejects file (rejected or ambiguous)."""
        with self._lock:
            return sum(c[o] for c in self._counts.values() for o in KEPT)

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{stream: {outcome: count}}`` with every outcome present."""
        with self._lock:
            return {
                stream: {o.value: n for o, n in counts.items()}
                for stream, counts in sorted(self._counts.items(), key=lambda kv: str(kv[0]))
            }

    def notes(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {s: dict(n) for s, n in sorted(self._notes.items()) if any(n.values())}

    def lines(self) -> list[str]:
        """One human line per stream, for the end-of-run log."""
        out = []
        for stream, counts in self.as_dict().items():
            total = sum(counts.values())
            parts = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
            out.append(f"{stream}: {total} records: {parts or 'none'}")
        return out
