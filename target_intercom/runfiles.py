"""The files a run writes about its records: rejects and results (JSON lines).

Both hold personal data (the records, e-mails, names), so they are created with owner-only
permissions (0600) and are never world-readable, whatever the umask. One file per run: when
the configured path already holds an earlier run's lines, that file is first renamed
``<name>.<its run id><suffix>`` (e.g. ``target-intercom.rejects.1a2b3c4d5e6f.jsonl``), so the
path always shows the latest run, nothing earlier is lost, and no file grows across runs.
Delete the renamed files when you no longer need them.

Each line is flushed as written; ``sync()`` also fsyncs, and the target calls it before
emitting STATE, so a STATE never covers a reject or a result that is not on disk.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO, Any

from singer_sdk.singerlib.json import serialize_json

OWNER_ONLY = 0o600


def _first_run_id(path: Path) -> str | None:
    """The run id on the first line of an existing run file (None when unreadable)."""
    try:
        with path.open(encoding="utf-8") as fh:
            first = fh.readline()
        run_id = json.loads(first).get("run_id") if first.strip() else None
    except (OSError, ValueError, AttributeError):
        return None
    return str(run_id) if run_id else None


def rotated_name(path: Path, run_id: str) -> Path:
    """Where an earlier run's file at ``path`` is moved: the run id before the suffix."""
    suffix = path.suffix or ".jsonl"
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    candidate = path.with_name(f"{stem}.{run_id}{suffix}")
    n = 1
    while candidate.exists():  # never overwrite a file kept from another run
        candidate = path.with_name(f"{stem}.{run_id}-{n}{suffix}")
        n += 1
    return candidate


class RunFile:
    """A JSON-lines file of one run: opened on the first line, owner-only, thread-safe."""

    def __init__(self, path: str | os.PathLike[str], run_id: str) -> None:
        self.path = Path(path)
        self.run_id = run_id
        self._lock = threading.Lock()
        self._fh: IO[str] | None = None
        self.written = 0
        self.rotated_to: Path | None = None

    def _open(self) -> IO[str]:
        if self.path.parent != Path():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() and self.path.stat().st_size > 0:
            earlier = _first_run_id(self.path) or f"before-{self.run_id}"
            if earlier != self.run_id:
                self.rotated_to = rotated_name(self.path, earlier)
                self.path.rename(self.rotated_to)
                os.chmod(self.rotated_to, OWNER_ONLY)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, OWNER_ONLY)
        os.fchmod(fd, OWNER_ONLY)  # a file that existed empty keeps its old mode otherwise
        return os.fdopen(fd, "a", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        line = serialize_json({"run_id": self.run_id, **row})
        with self._lock:
            if self._fh is None:
                self._fh = self._open()
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
