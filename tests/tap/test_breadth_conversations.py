"""conversation_parts (changed conversations only, truncation, deletions mid-run),
deleted_conversations, and tickets."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from singer_sdk.exceptions import ConfigValidationError
from tap_support import D0, DAY, TOKEN, SandboxControl, catalog_selecting, run_tap

from intercom_sandbox.server import RunningSandbox
from tap_intercom.streams.conversation_parts import ConversationPartsStream
from tap_intercom.tap import TapIntercom
from tap_intercom.transform import iso

PARTS = catalog_selecting(["conversation_parts"])
START = iso(D0 - 400 * DAY)


def _add_part(sandbox: RunningSandbox, conversation_id: str, at: int) -> None:
    """A new admin comment (the sandbox has no reply endpoint: written in the backend)."""
    store = sandbox.app.backend.conversations
    author = store.author_for_admin(sandbox.app.backend.workspace.owner)
    store.add_part(
        store.by_id[conversation_id], part_type="comment", author=author, body="Hi", created_at=at
    )


def _longest(sandbox: RunningSandbox) -> str:
    """The conversation with the most parts; more than Intercom returns (500).

    The seeder stops adding parts at the sandbox's "now", so a seeded long conversation
    created recently can end up short: tests seed two and take the longest.
    """
    by_id = sandbox.app.backend.conversations.by_id
    longest = max(by_id, key=lambda cid: len(by_id[cid]["parts"]))
    assert len(by_id[longest]["parts"]) > 500
    return longest


def _expected_parts(sandbox: RunningSandbox) -> dict[str, int]:
    """Conversation id -> parts the API returns for it (at most the 500 most recent)."""
    return {
        cid: min(500, len(c["parts"])) for cid, c in sandbox.app.backend.conversations.by_id.items()
    }


def test_parts_of_every_conversation_then_only_of_changed_ones(
    sandbox: RunningSandbox, ctl: SandboxControl, caplog: pytest.LogCaptureFixture
) -> None:
    ctl.clock(D0)
    ctl.seed(conversations=30, long_conversations=2)
    expected = _expected_parts(sandbox)
    long_id = _longest(sandbox)
    caplog.set_level(logging.WARNING, logger="tap_intercom")
    ctl.reset_stats()
    first = run_tap(sandbox.base_url, catalog=PARTS, start_date=START, search_lag_margin_seconds=0)
    records = first.records("conversation_parts")
    by_conversation: dict[str, int] = {}
    for r in records:
        by_conversation[r["conversation_id"]] = by_conversation.get(r["conversation_id"], 0) + 1
    assert by_conversation == {cid: n for cid, n in expected.items() if n}
    keys = [(r["conversation_id"], r["id"]) for r in records]
    assert len(keys) == len(set(keys))  # the primary key is unique
    assert all(r["created_at"].endswith("+00:00") for r in records)
    ops = ctl.stats()["operations"]
    assert ops["retrieveConversation"] == {"200": len(expected)}  # one call each
    assert f"conversation {long_id} has " in caplog.text
    assert "only the 500 most recent" in caplog.text

    ctl.clock(D0 + 3600)
    changed = sorted(expected)[3]
    _add_part(sandbox, changed, D0 + 1800)
    ctl.reset_stats()
    second = run_tap(
        sandbox.base_url, catalog=PARTS, state=first.state, search_lag_margin_seconds=0
    )
    assert ctl.stats()["operations"]["retrieveConversation"] == {"200": 1}
    assert {r["conversation_id"] for r in second.records("conversation_parts")} == {changed}
    assert len(second.records("conversation_parts")) == expected[changed] + 1
    # Done with the range: the bookmark is the signpost (sync start, margin 0).
    assert iso(D0 + 1800) <= second.bookmark("conversation_parts") <= iso(D0 + 3600)  # type: ignore[operator]


def test_conversations_of_the_overlap_window_are_not_fetched_again(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(conversations=10)
    recent = sorted(sandbox.app.backend.conversations.by_id)[0]
    _add_part(sandbox, recent, D0 - 100)  # inside the 600 s search lag margin
    first = run_tap(sandbox.base_url, catalog=PARTS, start_date=START)
    assert first.bookmark("conversation_parts") <= iso(D0 - 600)  # type: ignore[operator]
    assert first.state["bookmarks"]["conversation_parts"]["fetched"] == {recent: D0 - 100}

    ctl.reset_stats()
    second = run_tap(sandbox.base_url, catalog=PARTS, state=first.state)
    assert "retrieveConversation" not in ctl.stats()["operations"]  # listed, not refetched
    assert second.records("conversation_parts") == []

    ctl.clock(D0 + 60)
    _add_part(sandbox, recent, D0 + 50)
    ctl.reset_stats()
    third = run_tap(sandbox.base_url, catalog=PARTS, state=second.state)
    assert ctl.stats()["operations"]["retrieveConversation"] == {"200": 1}
    assert {r["conversation_id"] for r in third.records("conversation_parts")} == {recent}


def test_a_long_conversation_warns_and_one_deleted_mid_run_is_skipped(
    sandbox: RunningSandbox,
    ctl: SandboxControl,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctl.clock(D0)
    ctl.seed(conversations=12, long_conversations=2)
    ids = sorted(sandbox.app.backend.conversations.by_id)
    long_id = _longest(sandbox)
    doomed = next(c for c in ids if c != long_id)
    original = ConversationPartsStream._fetch

    def delete_then_fetch(self: ConversationPartsStream, item: tuple[str, int]) -> Any:
        if item[0] == doomed:  # deleted after the search listed it, before its fetch
            assert ctl.api.delete(f"{ctl.base}/conversations/{doomed}").status_code == 200
        return original(self, item)

    monkeypatch.setattr(ConversationPartsStream, "_fetch", delete_then_fetch)
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"access_token": TOKEN, "api_url": sandbox.base_url, "start_date": START})
    )
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(PARTS))
    caplog.set_level(logging.INFO, logger="tap_intercom")
    result = CliRunner().invoke(
        TapIntercom.cli, ["--config", str(config), "--catalog", str(catalog)]
    )
    assert result.exit_code == 0, result.output
    records = [
        json.loads(line)["record"]
        for line in result.stdout.splitlines()
        if line.startswith('{"type":"RECORD"')
    ]
    conversations = {r["conversation_id"] for r in records}
    assert doomed not in conversations
    assert conversations == set(ids) - {doomed}
    assert sum(r["conversation_id"] == long_id for r in records) == 500
    assert f"conversation {doomed} was deleted after the search listed it" in caplog.text
    assert f"conversation {long_id} has " in caplog.text


def test_conversations_deleted_between_runs_are_emitted_as_deletions(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(conversations=20)
    catalog = catalog_selecting(["conversations", "deleted_conversations"])
    config = {"start_date": START, "search_lag_margin_seconds": 0}
    first = run_tap(sandbox.base_url, catalog=catalog, **config)
    assert first.records("deleted_conversations") == []
    doomed = sorted(first.ids("conversations"))[:3]

    ctl.clock(D0 + DAY)
    for cid in doomed:
        assert ctl.api.delete(f"{ctl.base}/conversations/{cid}").status_code == 200
    ctl.clock(D0 + DAY + 60)
    second = run_tap(sandbox.base_url, catalog=catalog, state=first.state, **config)
    deletions = second.records("deleted_conversations")
    assert sorted(d["id"] for d in deletions) == doomed
    assert all(d["_sdc_deleted_at"] == d["deleted_at"] == iso(D0 + DAY) for d in deletions)
    assert not set(second.ids("conversations")) & set(doomed)

    third = run_tap(sandbox.base_url, catalog=catalog, state=second.state, **config)
    assert third.records("deleted_conversations") == []  # already emitted


def test_deleted_conversations_needs_api_2_16(sandbox: RunningSandbox, ctl: SandboxControl) -> None:
    ctl.clock(D0)
    ctl.reset_stats()
    # A settings problem: the SDK's config error (one line at the command line).
    with pytest.raises(ConfigValidationError, match=r"intercom_version 2\.16 or later"):
        run_tap(
            sandbox.base_url,
            catalog=catalog_selecting(["deleted_conversations"]),
            intercom_version="2.15",
        )
    assert "listDeletedConversationIds" not in ctl.stats()["operations"]


def test_tickets_incremental_on_updated_at(sandbox: RunningSandbox, ctl: SandboxControl) -> None:
    ctl.clock(D0)
    ctl.seed(tickets=40)
    catalog = catalog_selecting(["tickets"])
    first = run_tap(
        sandbox.base_url, catalog=catalog, start_date=START, search_lag_margin_seconds=0
    )
    tickets = sandbox.app.backend.tickets
    assert sorted(first.ids("tickets")) == sorted(tickets.by_id)
    assert all(t["updated_at"].endswith("+00:00") for t in first.records("tickets"))

    ctl.clock(D0 + 3600)
    changed = sorted(tickets.by_id)[5]
    author = sandbox.app.backend.conversations.author_for_admin(sandbox.app.backend.workspace.owner)
    tickets.comment(tickets.by_id[changed], author, "Looking into it", at=D0 + 1800)
    second = run_tap(
        sandbox.base_url, catalog=catalog, state=first.state, search_lag_margin_seconds=0
    )
    assert second.ids("tickets") == [changed]
    assert iso(D0 + 1800) <= second.bookmark("tickets") <= iso(D0 + 3600)  # type: ignore[operator]
