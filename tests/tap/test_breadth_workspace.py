"""Workspace streams: admins, teams, tags, segments, data attributes, articles, activity logs."""

from __future__ import annotations

from typing import Any

import jsonschema
from intercom_schemas import load_schema
from tap_support import D0, DAY, SandboxControl, catalog_selecting, run_tap

from intercom_sandbox.server import RunningSandbox
from tap_intercom.streams import workspace
from tap_intercom.transform import iso

FULL_TABLE = {
    "admins": ("/admins", "admins", {}),
    "teams": ("/teams", "teams", {}),
    "tags": ("/tags", "data", {}),
    "segments": ("/segments", "segments", {"include_count": "true"}),
    "contact_attributes": ("/data_attributes", "data", {"model": "contact"}),
    "company_attributes": ("/data_attributes", "data", {"model": "company"}),
}


def _get(ctl: SandboxControl, path: str, **params: Any) -> dict[str, Any]:
    r = ctl.api.get(f"{ctl.base}{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_full_table_streams_emit_every_object_with_iso_timestamps(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=20, admins=5, teams=3, tags=6, segments=4)
    ctl._post("/data_attributes", {"name": "nps", "model": "contact", "data_type": "integer"})
    run = run_tap(sandbox.base_url, catalog=catalog_selecting(FULL_TABLE))
    for stream, (path, key, params) in FULL_TABLE.items():
        expected = _get(ctl, path, **params)[key]
        records = run.records(stream)
        assert len(records) == len(expected) > 0, stream
        pk = run.tap.streams[stream].primary_keys
        assert pk
        assert all(all(r.get(k) for k in pk) for r in records), stream
        validator = jsonschema.Draft7Validator(load_schema(stream))
        for record in records:
            validator.validate(record)
        assert run.bookmark(stream) is None  # full table: no bookmark
    by_name = {a["full_name"]: a for a in run.records("contact_attributes")}
    assert by_name["custom_attributes.nps"]["custom"] is True
    assert by_name["custom_attributes.nps"]["created_at"] == iso(D0)
    assert by_name["email"]["custom"] is False  # built-ins have no id; full_name is the key
    segments = run.records("segments")
    assert all(isinstance(s["count"], int) for s in segments)
    assert all(s["created_at"].endswith("+00:00") for s in segments)


def test_articles_stop_paging_at_the_bookmark(sandbox: RunningSandbox, ctl: SandboxControl) -> None:
    ctl.clock(D0)
    ctl.seed(articles=320)  # three pages of 150, newest update first
    catalog = catalog_selecting(["articles"])
    first = run_tap(sandbox.base_url, catalog=catalog, start_date=iso(D0 - 400 * DAY))
    articles = _get(ctl, "/articles", per_page=250, page=1)["data"]
    articles += _get(ctl, "/articles", per_page=250, page=2)["data"]
    assert sorted(first.ids("articles")) == sorted(a["id"] for a in articles)
    newest = max(a["updated_at"] for a in articles)
    assert first.bookmark("articles") == iso(newest)

    # From a bookmark among the newest articles: one page, only the newer ones.
    ranked = sorted(articles, key=lambda a: a["updated_at"], reverse=True)
    mark = ranked[9]["updated_at"]
    state = {"bookmarks": {"articles": {"replication_key": "updated_at",
                                        "replication_key_value": iso(mark)}}}  # fmt: skip
    ctl.reset_stats()
    second = run_tap(sandbox.base_url, catalog=catalog, state=state)
    assert sorted(second.ids("articles")) == sorted(
        a["id"] for a in articles if a["updated_at"] > mark
    )
    assert ctl.stats()["operations"]["listArticles"] == {"200": 1}


def test_activity_logs_are_read_in_windows_and_resume_from_the_bookmark(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=5, admins=12)  # admins joined over the year, logged in in the last 60 days
    logs = _get(ctl, "/admins/activity_logs", created_at_after="0", per_page=60)
    assert logs["pages"]["total_pages"] == 1
    start = D0 - 90 * DAY
    expected = [e for e in logs["activity_logs"] if e["created_at"] >= start]
    assert 0 < len(expected) < len(logs["activity_logs"])
    catalog = catalog_selecting(["activity_logs"])
    ctl.reset_stats()
    first = run_tap(sandbox.base_url, catalog=catalog, start_date=iso(start))
    assert sorted(first.ids("activity_logs")) == sorted(e["id"] for e in expected)
    windows = -(-90 * DAY // (workspace.ACTIVITY_WINDOW_DAYS * DAY))
    assert ctl.stats()["operations"]["listActivityLogs"] == {"200": windows}
    assert all(r["created_at"].endswith("+00:00") for r in first.records("activity_logs"))

    mark = sorted(e["created_at"] for e in expected)[len(expected) // 2]
    state = {"bookmarks": {"activity_logs": {"replication_key": "created_at",
                                             "replication_key_value": iso(mark)}}}  # fmt: skip
    second = run_tap(sandbox.base_url, catalog=catalog, state=state)
    assert sorted(second.ids("activity_logs")) == sorted(
        e["id"] for e in expected if e["created_at"] > mark
    )
    # The bookmark never passes the signpost (sync start minus the lag margin).
    assert second.bookmark("activity_logs") <= iso(D0 - 600)  # type: ignore[operator]
