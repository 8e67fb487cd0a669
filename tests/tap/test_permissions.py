"""A token missing a permission skips the streams it refuses; strict mode fails the run.

The sandbox issues tokens limited to some of Intercom's permissions (``NAME:perm,perm``)
and answers 403 ``action_forbidden`` for the rest, as Intercom does (FACTS.md §6).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from tap_support import D0, DAY, catalog_selecting, run_tap

from intercom_sandbox.permissions import PERMISSIONS
from intercom_sandbox.server import RunningSandbox, start
from tap_intercom.permissions import STREAM_PERMISSIONS
from tap_intercom.tap import STREAM_NAMES
from tap_intercom.transform import iso

NO_TICKETS_NO_CONVERSATIONS = [
    p for p in PERMISSIONS if p not in ("Read tickets", "Read conversations")
]
NO_TICKETS = [p for p in PERMISSIONS if p != "Read tickets"]
NO_TAGS = [p for p in PERMISSIONS if p not in ("Read tags", "Write tags")]
SKIP_LINE = "skipped: the access token lacks Intercom's"


@pytest.fixture
def limited() -> Iterator[RunningSandbox]:
    sbx = start(
        tokens=[
            "sandbox-token",
            "no-tickets-no-conversations:" + ",".join(NO_TICKETS_NO_CONVERSATIONS),
            "no-tickets:" + ",".join(NO_TICKETS),
            "no-tags:" + ",".join(NO_TAGS),
        ],
        random_seed=5,
        clock_start=D0,
        seed={"users": 30, "leads": 12, "companies": 4, "conversations": 8, "tickets": 5},
    )
    try:
        yield sbx
    finally:
        sbx.stop()


def _cli(sbx: RunningSandbox, tmp_path: Path, token: str, **config: object):
    """Run tap-intercom as Meltano would: every stream selected, a config file."""
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "access_token": token,
                "api_url": sbx.base_url,
                "start_date": iso(D0 - 400 * DAY),
                **config,
            }
        )
    )
    (tmp_path / "catalog.json").write_text(json.dumps(catalog_selecting(None)))
    files = ["--config", str(tmp_path / "config.json"), "--catalog", str(tmp_path / "catalog.json")]
    return subprocess.run(
        [sys.executable, "-m", "tap_intercom.tap", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )


def _records(stdout: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        msg = json.loads(line)
        if msg["type"] == "RECORD":
            counts[msg["stream"]] = counts.get(msg["stream"], 0) + 1
    return counts


def test_missing_permissions_skip_their_streams_and_the_rest_completes(limited, tmp_path):
    dump = limited.backend.dump()
    result = _cli(limited, tmp_path, "no-tickets-no-conversations")
    assert result.returncode == 0, result.stderr[-3000:]
    counts = _records(result.stdout)
    contacts = dump["contacts"]["contacts"]
    assert counts["users"] == sum(c["role"] == "user" for c in contacts)
    assert counts["leads"] == sum(c["role"] == "lead" for c in contacts)
    assert counts["admins"] and counts["companies"]
    refused = {"tickets": "Read tickets"} | {
        s: "Read conversations"
        for s in ("conversations", "conversation_parts", "deleted_conversations")
    }
    assert not set(refused) & set(counts)
    lines = result.stderr.splitlines()
    for stream, permission in refused.items():
        mine = [x for x in lines if f"stream {stream} {SKIP_LINE}" in x]
        assert len(mine) == 1, (stream, mine)
        assert f'"{permission}" permission' in mine[0]
        assert "action_forbidden" in mine[0]
    # One line per stream: no SDK "unhandled error" line, no traceback.
    assert "unhandled error" not in result.stderr
    assert "Traceback" not in result.stderr
    summary = [x for x in lines if "stream(s) skipped for missing permissions" in x]
    assert len(summary) == 1
    assert all(f'{s} (needs "{p}")' in summary[0] for s, p in refused.items())
    assert "no-tickets-no-conversations" not in result.stderr  # the token is never logged


def test_strict_permissions_fails_the_run_naming_the_permission(limited, tmp_path):
    result = _cli(limited, tmp_path, "no-tickets", strict_permissions=True)
    assert result.returncode != 0
    assert "stream tickets: Intercom refused it (HTTP 403 action_forbidden" in result.stderr
    assert 'lacks the "Read tickets" permission' in result.stderr
    assert "no-tickets" not in result.stderr.replace("stream tickets", "")


def test_a_refused_stream_keeps_its_bookmark(limited):
    state = {
        "bookmarks": {
            "tickets": {"replication_key": "updated_at", "replication_key_value": iso(D0 - DAY)}
        }
    }
    run = run_tap(
        limited.base_url,
        access_token="no-tickets",
        state=state,
        catalog=catalog_selecting(["tickets", "users"]),
        start_date=iso(D0 - 400 * DAY),
    )
    assert run.state["bookmarks"]["tickets"] == state["bookmarks"]["tickets"]
    assert run.bookmark("users")
    assert [r.stream for r in run.tap.run.permissions.skipped] == ["tickets"]


def test_a_403_in_the_middle_of_a_list_stream_does_not_move_its_bookmark():
    """The SDK keeps an unsorted stream's max-so-far as a progress marker and promotes it at
    the end: after a 403 on the second page, that would skip the companies never read."""
    sbx = start(
        tokens=["sandbox-token"],
        random_seed=2,
        clock_start=D0,
        seed={"users": 600, "companies": 150},
    )
    pages = []

    def revoke_after_first_page(operation_id: str, status: int, body: bytes) -> None:
        if operation_id == "scrollOverAllCompanies" and status == 200:
            pages.append(1)
            sbx.app.tokens = [t.__class__(t.secret, frozenset()) for t in sbx.app.tokens]

    sbx.app.observers.append(revoke_after_first_page)
    try:
        run = run_tap(
            sbx.base_url,
            catalog=catalog_selecting(["companies"]),
            start_date=iso(D0 - 400 * DAY),
        )
    finally:
        sbx.stop()
    assert len(pages) == 1
    assert 0 < len(run.records("companies")) < 150  # the first page went out
    assert run.bookmark("companies") is None  # ... but no bookmark claims the rest
    assert "progress_markers" not in run.state["bookmarks"].get("companies", {})


def test_without_read_tags_contacts_still_sync_with_tag_ids(limited, caplog):
    contact = next(c for c in limited.backend.dump()["contacts"]["contacts"])
    s = requests.Session()
    s.headers["Authorization"] = "Bearer sandbox-token"
    tag_id = s.get(f"{limited.base_url}/tags").json()["data"][0]["id"]
    s.post(f"{limited.base_url}/contacts/{contact['id']}/tags", json={"id": tag_id})
    with caplog.at_level("WARNING", logger="tap_intercom"):
        run = run_tap(
            limited.base_url,
            access_token="no-tags",
            catalog=catalog_selecting(["users", "leads", "tags"]),
            start_date=iso(D0 - 400 * DAY),
        )
    got = {r["id"]: r for r in run.records("users") + run.records("leads")}
    assert contact["id"] in got
    tags = got[contact["id"]]["tags"]["data"]
    assert tag_id in [t["id"] for t in tags]
    assert all(t.get("name") is None for t in tags)
    assert [r.stream for r in run.tap.run.permissions.skipped] == ["tags"]
    assert sum('lacks Intercom\'s "Read tags"' in r.message for r in caplog.records) == 2


def test_every_stream_names_its_permission():
    api_streams = set(STREAM_NAMES) - {"webhook_events"}  # reads a local store, not the API
    assert api_streams <= set(STREAM_PERMISSIONS)
    assert set(STREAM_PERMISSIONS.values()) <= set(PERMISSIONS)


def test_the_sdk_hook_skipping_a_stream_is_still_there():
    """sdk_hooks.RefusableSync wraps Stream._sync_records, the generator the SDK's sync runs
    inside its try block: a change of name or signature must fail here, loudly."""
    import inspect

    from singer_sdk import Stream

    params = inspect.signature(Stream._sync_records).parameters
    assert list(params)[:2] == ["self", "context"]
    assert params["write_messages"].kind is inspect.Parameter.KEYWORD_ONLY
    assert inspect.isgeneratorfunction(Stream._sync_records)
    assert "_sync_records" in inspect.getsource(Stream.sync)
