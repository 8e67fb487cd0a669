"""The SQLite store: one file in WAL mode, ``synchronous=FULL`` by default.

WAL lets the tap read while the receiver writes. With FULL, a commit is on disk (the WAL is
fsynced) before ``append`` returns, so an acknowledged notification survives a crash of the
process or of the machine; NORMAL survives a crash of the process only. SQLite has one writer
at a time, and ``AUTOINCREMENT`` numbers inside the write transaction: numbers increase in
commit order, and a number is never reused.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence

from intercom_webhooks.envelope import Incoming
from intercom_webhooks.store import COLUMNS, TABLE, Accepted, Store, Stored, StoreError

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    notification_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    app_id TEXT,
    created_at INTEGER,
    delivery_attempts INTEGER,
    first_sent_at INTEGER,
    item_type TEXT,
    item_id TEXT,
    received_at REAL NOT NULL,
    body TEXT NOT NULL
)
"""
INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (notification_id) DO NOTHING RETURNING seq"
)
SELECT = f"SELECT seq, {', '.join(COLUMNS)} FROM {TABLE} WHERE seq > ? ORDER BY seq LIMIT ?"
SYNCHRONOUS = ("FULL", "NORMAL")


class SQLiteStore(Store):
    kind = "sqlite"

    def __init__(self, path: str, *, create: bool = True, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in SYNCHRONOUS:
            raise StoreError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.location = path
        if not create and not os.path.exists(path):
            raise StoreError(
                f"no webhook store at {path}: start intercom-webhooks with --store {path} "
                "first, or fix the path"
            )
        try:
            self._conn = sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            if create:
                self._conn.execute(SCHEMA)
            else:
                self._conn.execute(f"SELECT 1 FROM {TABLE} LIMIT 1")
        except sqlite3.Error as e:
            raise StoreError(f"cannot open the webhook store {path}: {e}") from None
        self._lock = threading.Lock()

    def append(self, batch: Sequence[Incoming]) -> list[Accepted]:
        out: list[Accepted] = []
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                for n in batch:
                    row = conn.execute(INSERT, _values(n)).fetchone()
                    out.append(Accepted(row[0], False) if row else Accepted(None, True))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return out

    def read(self, after_seq: int, limit: int) -> list[Stored]:
        with self._lock:
            rows = self._conn.execute(SELECT, (after_seq, limit)).fetchall()
        return [Stored(row[0], Incoming(*row[1:])) for row in rows]

    def last_seq(self) -> int:
        with self._lock:
            row = self._conn.execute(f"SELECT max(seq) FROM {TABLE}").fetchone()
        return int(row[0] or 0)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _values(n: Incoming) -> tuple[object, ...]:
    return tuple(getattr(n, c) for c in COLUMNS)
