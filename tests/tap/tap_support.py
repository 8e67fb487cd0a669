"""Helpers for tap tests: run the tap in-process on a sandbox, read its Singer output."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import requests

from tap_intercom.tap import TapIntercom

TOKEN = "sandbox-token"  # the token tests/conftest.py starts the sandbox with
DAY = 86_400
# 2025-06-10 00:00:00 UTC: a fixed, past day for the sandbox clock (Tuesday).
D0 = 1_749_513_600


@dataclass
class TapRun:
    tap: TapIntercom
    messages: list[dict[str, Any]]

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"] for m in self.messages if m["type"] == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream: str) -> list[str]:
        return [r["id"] for r in self.records(stream)]

    @property
    def state(self) -> dict[str, Any]:
        states = [m["value"] for m in self.messages if m["type"] == "STATE"]
        return states[-1] if states else {}

    def bookmark(self, stream: str) -> str | None:
        return self.state.get("bookmarks", {}).get(stream, {}).get("replication_key_value")


def run_tap(
    base_url: str,
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    **config: Any,
) -> TapRun:
    """Run a full sync in this process; return the Singer messages it wrote.

    Without ``catalog``, the streams selected by default (users, leads, conversations) run.
    """
    full = {"access_token": TOKEN, "api_url": base_url, **config}
    tap = TapIntercom(config=full, state=state, catalog=catalog, setup_mapper=True)
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    out.seek(0)
    return TapRun(tap, [json.loads(line) for line in out.read().splitlines() if line])


def open_together(messages: list[dict[str, Any]]) -> bool:
    """Some stream's RECORD comes after another stream's SCHEMA that followed its own: two
    streams were open at once (one stream after another, never)."""
    opened: list[str] = []
    for m in messages:
        if m["type"] == "SCHEMA" and m["stream"] not in opened:
            opened.append(m["stream"])
        elif m["type"] == "RECORD" and opened and opened[-1] != m["stream"]:
            return True
    return False


def catalog_selecting(streams: Iterable[str] | None = None) -> dict[str, Any]:
    """The tap's catalog with exactly ``streams`` selected (None: every stream)."""
    tap = TapIntercom(config={"access_token": TOKEN, "api_url": "http://127.0.0.1:9"})
    catalog = tap.catalog_dict
    wanted = None if streams is None else set(streams)
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = wanted is None or entry["tap_stream_id"] in wanted
    return catalog


class SandboxControl:
    """The sandbox's /_sandbox control API and a few contact writes, over HTTP."""

    def __init__(self, api: requests.Session) -> None:
        self.api = api
        self.base: str = api.base  # type: ignore[attr-defined]

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.api.post(f"{self.base}{path}", json=body)
        assert r.status_code == 200, r.text
        return r.json()

    def clock(self, ts: float) -> None:
        self._post("/_sandbox/clock", {"set": ts, "frozen": True})

    def advance(self, seconds: float) -> None:
        self._post("/_sandbox/clock", {"advance": seconds})

    def config(self, **values: Any) -> None:
        self._post("/_sandbox/config", values)

    def seed(self, **counts: int) -> dict[str, Any]:
        return self._post("/_sandbox/seed", counts)

    def faults(self, **config: Any) -> None:
        self._post("/_sandbox/faults", {"clear": True, **config})

    def stats(self) -> dict[str, Any]:
        return self.api.get(f"{self.base}/_sandbox/stats").json()

    def reset_stats(self) -> None:
        assert self.api.delete(f"{self.base}/_sandbox/stats").status_code == 200

    def contact(self, role: str, email: str, **fields: Any) -> dict[str, Any]:
        return self._post("/contacts", {"role": role, "email": email, **fields})

    def update(self, contact_id: str, **fields: Any) -> dict[str, Any]:
        r = self.api.put(f"{self.base}/contacts/{contact_id}", json=fields)
        assert r.status_code == 200, r.text
        return r.json()
