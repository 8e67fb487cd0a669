"""The one storage interface of the receiver and the tap, and the group committer.

A store keeps every accepted notification once (unique on the notification id: Intercom
retries) under a sequence number it assigns, strictly increasing in commit order, so a reader
that saw number N has seen every committed number below it: the tap's bookmark. Two
implementations: SQLite (a file path; WAL) and PostgreSQL (a ``postgresql://`` URL).

The receiver never writes from a request thread: requests hand their notification to the
``GroupCommitter``, whose one thread commits everything queued as one transaction and only
then wakes them, so each acknowledgement follows its commit and one fsync serves many.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from intercom_webhooks.envelope import Incoming

TABLE = "intercom_webhook_notifications"
COLUMNS = (
    "notification_id",
    "topic",
    "app_id",
    "created_at",
    "delivery_attempts",
    "first_sent_at",
    "item_type",
    "item_id",
    "received_at",
    "body",
)
POSTGRES_SCHEMES = ("postgresql", "postgres")


class StoreError(RuntimeError):
    """The store cannot be opened or written; the message names the fix, never a password."""


@dataclass(frozen=True)
class Accepted:
    """The outcome of one append: its sequence number, or a duplicate (already stored)."""

    seq: int | None
    duplicate: bool


@dataclass(frozen=True)
class Stored:
    """A stored notification: its sequence number and what was received."""

    seq: int
    notification: Incoming


class Store(ABC):
    """Append notifications (one transaction per call), read them back in sequence order."""

    kind: str
    location: str  # safe to show: a path, or a URL without its password

    @abstractmethod
    def append(self, batch: Sequence[Incoming]) -> list[Accepted]:
        """Insert ``batch`` in one transaction; on return it is committed (durable)."""

    @abstractmethod
    def read(self, after_seq: int, limit: int) -> list[Stored]:
        """Up to ``limit`` notifications with a sequence number above ``after_seq``, in order."""

    @abstractmethod
    def last_seq(self) -> int:
        """The highest sequence number stored (0 when empty); also a health check."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def is_postgres(location: str) -> bool:
    return urlsplit(location).scheme in POSTGRES_SCHEMES


def redact(location: str) -> str:
    """``location`` safe for a log line or an error: a URL loses its password."""
    if not is_postgres(location):
        return location
    parts = urlsplit(location)
    if parts.password is None:
        return location
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit((parts.scheme, user + host, parts.path, parts.query, parts.fragment))


def open_store(location: str, *, create: bool = True, **options: Any) -> Store:
    """The store at ``location``: a ``postgresql://`` URL, else a SQLite file path.

    ``create`` False (the tap) refuses a store that does not exist yet, rather than reading
    an empty one made by a typo.
    """
    if not location or not str(location).strip():
        raise StoreError("no store given: set a SQLite file path or a postgresql:// URL")
    location = str(location).strip()
    if is_postgres(location):
        from intercom_webhooks.store_postgres import PostgresStore

        return PostgresStore(location, create=create, **options)
    from intercom_webhooks.store_sqlite import SQLiteStore

    return SQLiteStore(location, create=create, **options)


class CommitTimeout(Exception):
    """The commit did not finish in time: the request is answered unacknowledged (503)."""


class _Slot:
    __slots__ = ("done", "error", "notification", "result")

    def __init__(self, notification: Incoming) -> None:
        self.notification = notification
        self.done = threading.Event()
        self.result: Accepted | None = None
        self.error: BaseException | None = None


class GroupCommitter:
    """One writer thread for a store: each batch is whatever queued while the last committed.

    No artificial delay: an idle store commits a lone notification at once; under load a
    commit carries every request that arrived during the previous one.
    """

    def __init__(self, store: Store, *, max_batch: int = 2000) -> None:
        self.store = store
        self.max_batch = max_batch
        self._cv = threading.Condition()
        self._pending: list[_Slot] = []
        self._closing = False
        self.batches = 0
        self.committed = 0
        self._thread = threading.Thread(target=self._run, name="webhooks-commit", daemon=True)
        self._thread.start()

    def submit(self, notification: Incoming, timeout: float) -> Accepted:
        """Store ``notification``; returns once committed. Raises CommitTimeout, StoreError."""
        slot = _Slot(notification)
        with self._cv:
            if self._closing:
                raise StoreError("the receiver is shutting down")
            self._pending.append(slot)
            self._cv.notify()
        if not slot.done.wait(timeout):
            raise CommitTimeout()
        if slot.error is not None:
            raise StoreError(str(slot.error)) from slot.error
        assert slot.result is not None
        return slot.result

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._pending and not self._closing:
                    self._cv.wait()
                if not self._pending:
                    return
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
            try:
                results = self.store.append([s.notification for s in batch])
            except Exception as e:  # every waiter answers 503; Intercom retries
                for slot in batch:
                    slot.error = e
                    slot.done.set()
                continue
            self.batches += 1
            self.committed += len(batch)
            for slot, result in zip(batch, results, strict=True):
                slot.result = result
                slot.done.set()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join(timeout)
