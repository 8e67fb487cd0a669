"""Helpers of the webhook tests (fixtures are in conftest.py)."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any

import orjson
import requests

from intercom_webhooks.signature import sign
from intercom_webhooks.store import open_store
from tap_intercom.tap import TapIntercom

SECRET = "whsec-test-7f3a9c1e-do-not-log-me"
TOKEN = "sandbox-token"


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Poll ``predicate`` until it is truthy (a liveness wait, not a timing assertion)."""

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.02)


def notification(nid: str, topic: str = "contact.user.created", **extra: Any) -> dict[str, Any]:
    """An envelope as Intercom sends it (FACTS.md §7)."""
    return {
        "type": "notification_event",
        "app_id": "abc123",
        "data": {
            "type": "notification_event_data",
            "item": {"type": "contact", "id": f"c-{nid}", "role": "user"},
        },
        "id": nid,
        "topic": topic,
        "delivery_attempts": 1,
        "first_sent_at": 1_749_513_600,
        "created_at": 1_749_513_600,
        **extra,
    }


def post_signed(
    session: requests.Session, url: str, body: bytes, secret: str = SECRET, **headers: str
) -> requests.Response:
    sig = {"X-Hub-Signature": sign(secret.encode(), body)} if secret else {}
    return session.post(
        url, data=body, headers={"Content-Type": "application/json", **sig, **headers}, timeout=10
    )


def stored(location: str) -> list[Any]:
    """Every row of the store at ``location`` (read with a fresh connection)."""
    with open_store(location, create=False) as s:
        return s.read(0, 1_000_000)


@dataclass
class TapRun:
    messages: list[dict[str, Any]]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    @property
    def state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def bookmark(self, stream: str) -> Any:
        return self.state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def catalog_selecting(streams: list[str]) -> dict[str, Any]:
    tap = TapIntercom(config={"access_token": TOKEN, "api_url": "http://127.0.0.1:9"})
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = entry["tap_stream_id"] in streams
    return catalog


def run_tap(base_url: str, streams: list[str], state: dict | None = None, **config: Any) -> TapRun:
    """A full sync in this process, only ``streams`` selected; the Singer messages written."""
    full = {"access_token": TOKEN, "api_url": base_url, **config}
    tap = TapIntercom(config=full, state=state, catalog=catalog_selecting(streams))
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    out.seek(0)
    return TapRun([json.loads(line) for line in out.read().splitlines() if line])


class Capture:
    """Records every request; answers with the next scripted status (then 200)."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.script: list[int | str] = []  # statuses, or "hang" (no answer until released)
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hook"

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [orjson.loads(r["body"]) for r in self.requests]

    def topics(self) -> list[str]:
        return [b["topic"] for b in self.bodies()]
