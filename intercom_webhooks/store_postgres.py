"""The PostgreSQL store (psycopg 3, the ``postgres`` extra): one table, an identity column.

A sequence hands out numbers when rows are inserted, not when they commit: two concurrent
transactions can commit numbers out of order, and a reader that saw 12 before 11 committed
would skip 11 for good. So every write transaction first takes one transaction-level
advisory lock: writers (every receiver process sharing the database) commit one after
another, numbers increase in commit order, and a committed number is visible before the next
writer can take one. The group committer makes that one transaction per batch, not per
notification.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from intercom_webhooks.envelope import Incoming
from intercom_webhooks.store import COLUMNS, TABLE, Accepted, Store, Stored, StoreError, redact

# pg_advisory_xact_lock key: "intercom webhooks" folded into a bigint.
LOCK_KEY = 0x1C7E_C0_0E_B0_0C
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    app_id TEXT,
    created_at BIGINT,
    delivery_attempts INTEGER,
    first_sent_at BIGINT,
    item_type TEXT,
    item_id TEXT,
    received_at DOUBLE PRECISION NOT NULL,
    body TEXT NOT NULL
)
"""
INSERT = (
    f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))}) "
    "ON CONFLICT (notification_id) DO NOTHING RETURNING seq"
)
SELECT = f"SELECT seq, {', '.join(COLUMNS)} FROM {TABLE} WHERE seq > %s ORDER BY seq LIMIT %s"
MISSING_DRIVER = (
    "a PostgreSQL webhook store needs psycopg 3: install the extra, "
    "pip install 'intercom-singer[postgres]'"
)


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StoreError(MISSING_DRIVER) from None
    return psycopg


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, url: str, *, create: bool = True, connect_timeout: int = 10) -> None:
        self._psycopg = _psycopg()
        self._url = url
        self.location = redact(url)
        self._create = create
        self._timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn: Any = None
        with self._lock:
            self._connect()

    def _connect(self) -> Any:
        """A working connection (reconnects after the server went away)."""
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        pg = self._psycopg
        try:
            conn = pg.connect(self._url, connect_timeout=self._timeout, autocommit=True)
        except pg.Error as e:
            raise StoreError(
                f"cannot connect to the webhook store {self.location}: {_first_line(e)}"
            ) from None
        try:
            if self._create:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                    conn.execute(SCHEMA)
            else:
                conn.execute(f"SELECT 1 FROM {TABLE} LIMIT 1")
        except pg.errors.UndefinedTable:
            conn.close()
            raise StoreError(
                f"no webhook store in {self.location} (table {TABLE} missing): start "
                "intercom-webhooks with this --store first, or fix the URL"
            ) from None
        except pg.Error as e:
            conn.close()
            raise StoreError(
                f"cannot use the webhook store {self.location}: {_first_line(e)}"
            ) from None
        self._conn = conn
        return conn

    def append(self, batch: Sequence[Incoming]) -> list[Accepted]:
        out: list[Accepted] = []
        with self._lock:
            conn = self._connect()
            try:
                with conn.transaction(), conn.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                    cur.executemany(INSERT, [_values(n) for n in batch], returning=True)
                    while True:
                        row = cur.fetchone()
                        out.append(Accepted(row[0], False) if row else Accepted(None, True))
                        if not cur.nextset():
                            break
            except self._psycopg.Error as e:
                raise StoreError(f"webhook store {self.location}: {_first_line(e)}") from None
        return out

    def read(self, after_seq: int, limit: int) -> list[Stored]:
        with self._lock:
            conn = self._connect()
            try:
                rows = conn.execute(SELECT, (after_seq, limit)).fetchall()
            except self._psycopg.Error as e:
                raise StoreError(f"webhook store {self.location}: {_first_line(e)}") from None
        return [Stored(int(row[0]), Incoming(*row[1:])) for row in rows]

    def last_seq(self) -> int:
        with self._lock:
            conn = self._connect()
            try:
                row = conn.execute(f"SELECT coalesce(max(seq), 0) FROM {TABLE}").fetchone()
            except self._psycopg.Error as e:
                raise StoreError(f"webhook store {self.location}: {_first_line(e)}") from None
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _values(n: Incoming) -> tuple[object, ...]:
    return tuple(getattr(n, c) for c in COLUMNS)
