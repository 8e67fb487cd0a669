"""Fixtures for the webhook tests: stores (SQLite in tmp_path; PostgreSQL in a throwaway
database per run), an in-process receiver, a sandbox subscribed to it, a capturing endpoint.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from webhook_support import SECRET, TOKEN, Capture

from intercom_sandbox.server import RunningSandbox, start
from intercom_webhooks.server import RunningReceiver
from intercom_webhooks.server import start as start_receiver
from intercom_webhooks.store import TABLE, Store, open_store

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
RETRY_SCALE = 0.01  # Intercom's 1-minute retry delay becomes 0.6 s


# -- stores ---------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A throwaway database for this run (dropped after); skips where no PostgreSQL answers."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed")
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.Error as e:
        pytest.skip(f"no PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth): {e}")
    name = f"webhooks_test_{secrets.token_hex(4)}"
    admin.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def pg_location(pg_database: str) -> str:
    """The run's database with no store table: each test starts from an empty store."""
    import psycopg

    with psycopg.connect(pg_database, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
    return pg_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store location: a SQLite file, or a PostgreSQL URL."""
    if request.param == "sqlite":
        return str(tmp_path / "webhooks.sqlite3")
    return request.getfixturevalue("pg_location")


@pytest.fixture
def store(store_location: str) -> Iterator[Store]:
    s = open_store(store_location)
    try:
        yield s
    finally:
        s.close()


def stored(location: str) -> list[Any]:
    """Every row of the store at ``location`` (read with a fresh connection)."""
    with open_store(location, create=False) as s:
        return s.read(0, 1_000_000)


# -- receiver and sandbox -------------------------------------------------------------------
@pytest.fixture
def receiver(store: Store) -> Iterator[RunningReceiver]:
    running = start_receiver(store, SECRET.encode(), path="/intercom/webhooks")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    s = requests.Session()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def linked_sandbox(receiver: RunningReceiver) -> Iterator[RunningSandbox]:
    """A sandbox whose app is subscribed (every topic) to the receiver."""
    sbx = start(
        tokens=[TOKEN],
        random_seed=3,
        webhook_url=receiver.url,
        client_secret=SECRET,
        webhook_retry_scale=RETRY_SCALE,
    )
    try:
        yield sbx
    finally:
        sbx.stop()
        sbx.backend.webhooks.close()


@pytest.fixture
def api() -> Iterator[requests.Session]:
    s = requests.Session()
    s.headers.update(
        {
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/json",
            "Intercom-Version": "2.16",
        }
    )
    try:
        yield s
    finally:
        s.close()


# -- a capturing endpoint (what the sandbox sends, answered as the test says) ----------------
@pytest.fixture
def capture() -> Iterator[Capture]:
    cap = Capture()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with cap.lock:
                cap.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                action = cap.script.pop(0) if cap.script else 200
            if action == "hang":
                cap.release.wait(30)
                self.close_connection = True
                return
            self.send_response(int(action))
            self.send_header("Content-Length", "0")
            self.end_headers()

    cap.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    cap.server.daemon_threads = True
    thread = threading.Thread(target=cap.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield cap
    finally:
        cap.release.set()
        cap.server.shutdown()
        cap.server.server_close()


@pytest.fixture
def sandbox_to_capture(capture: Capture) -> Iterator[RunningSandbox]:
    sbx = start(
        tokens=[TOKEN],
        random_seed=5,
        webhook_url=capture.url,
        client_secret=SECRET,
        webhook_retry_scale=RETRY_SCALE,
    )
    try:
        yield sbx
    finally:
        sbx.stop()
        sbx.backend.webhooks.close()
