"""Record outcomes, the rejects file, and the per-stream tally logged at the end of a run.

Every record read ends in exactly one outcome: created, updated, unchanged (found identical:
no write), archived, deleted (``delete_mode: delete``) or rejected. A rejected record is
appended to the rejects file (JSON lines) with what is needed to fix and replay it: the
record as received, its stream, the reason, and Intercom's error code, HTTP status and
request id when Intercom refused it.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import defaultdict
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import IO, Any

from singer_sdk.singerlib.json import serialize_json


class Outcome(str, Enum):
    """What happened to one record (in a dry run: what would have happened)."""

    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    ARCHIVED = "archived"
    DELETED = "deleted"
    REJECTED = "rejected"


class RecordRejected(Exception):
    """Raised while handling one record: the record is rejected, the run goes on."""

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status
        self.request_id = request_id


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

    def to_dict(self, run_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "run_id": run_id,
            "stream": self.stream,
            "reason": self.reason,
            "error_code": self.error_code,
            "status": self.status,
            "request_id": self.request_id,
            "line_number": self.line_number,
            "record": self.record,
        }
        if self.line is not None:
            out["line"] = self.line
        return out


class RejectsFile:
    """Append-only JSON-lines file, opened on the first reject, safe across threads.

    Each line is flushed as written; ``sync()`` also fsyncs, and the target calls it before
    emitting STATE, so a STATE never covers a reject that is not on disk.
    """

    def __init__(self, path: str | os.PathLike[str], run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None
        self.written = 0

    def write(self, reject: Reject) -> None:
        line = serialize_json(reject.to_dict(self.run_id))
        with self._lock:
            if self._fh is None:
                if self.path.parent != Path():
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("a", encoding="utf-8")
            self._fh.write(line + "\n")
            self._fh.flush()
            self.written += 1

    def sync(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.flush()
                os.fsync(self._fh.fileno())
                self._fh.close()
                self._fh = None


class Tally:
    """Outcome counts per stream, safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, dict[Outcome, int]] = defaultdict(lambda: dict.fromkeys(Outcome, 0))

    def add(self, stream: str, outcome: Outcome, count: int = 1) -> None:
        with self._lock:
            self._counts[stream][outcome] += count

    def get(self, stream: str, outcome: Outcome) -> int:
        with self._lock:
            return self._counts[stream][outcome] if stream in self._counts else 0

    @property
    def rejected(self) -> int:
        with self._lock:
            return sum(c[Outcome.REJECTED] for c in self._counts.values())

    def as_dict(self) -> dict[str, dict[str, int]]:
        """``{stream: {outcome: count}}`` with every outcome present."""
        with self._lock:
            return {
                stream: {o.value: n for o, n in counts.items()}
                for stream, counts in sorted(self._counts.items(), key=lambda kv: str(kv[0]))
            }

    def lines(self) -> list[str]:
        """One human line per stream, for the end-of-run log."""
        out = []
        for stream, counts in self.as_dict().items():
            total = sum(counts.values())
            parts = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
            out.append(f"{stream}: {total} records: {parts or 'none'}")
        return out
