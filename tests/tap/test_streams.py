"""Users/leads enrichment (tag and company names), reads by id, full lead listing, settings."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from singer_sdk.exceptions import ConfigValidationError
from tap_support import D0, DAY, TOKEN, SandboxControl, run_tap

from intercom_api import IntercomClient
from intercom_sandbox.server import RunningSandbox
from tap_intercom.tap import TapIntercom
from tap_intercom.transform import iso


def test_tag_and_company_names_come_from_cached_lookups(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=400, leads=100, companies=25)
    ctl.reset_stats()
    run = run_tap(sandbox.base_url, start_date=iso(D0 - 400 * DAY))
    ops = ctl.stats()["operations"]
    tags = {t["id"]: t["name"] for t in ctl.api.get(f"{ctl.base}/tags").json()["data"]}
    company_ids: set[str] = set()
    named = 0
    for record in run.records("users") + run.records("leads"):
        for tag in record["tags"]["data"]:
            assert tag["name"] == tags[tag["id"]]
            named += 1
        for company in record["companies"]["data"]:
            company_ids.add(company["id"])
            expected = ctl.api.get(f"{ctl.base}/companies/{company['id']}").json()["name"]
            assert company["name"] == expected
    assert named > 0 and company_ids
    assert ops["listTags"] == {"200": 1}
    # One look-up per distinct company, not one per record.
    assert sum(ops["RetrieveACompanyById"].values()) == len(company_ids)


def test_more_than_ten_tags_are_read_from_the_contact_tag_list(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    user = ctl.contact("user", "tagged@example.com")
    names = [f"tag-{i:02d}" for i in range(12)]
    for name in names:
        tag = ctl._post("/tags", {"name": name})
        ctl._post(f"/contacts/{user['id']}/tags", {"id": tag["id"]})
    run = run_tap(sandbox.base_url, start_date=iso(D0 - DAY))
    [record] = run.records("users")
    assert sorted(t["name"] for t in record["tags"]["data"]) == names


def test_user_ids_read_just_those_contacts_following_merges(
    sandbox: RunningSandbox, ctl: SandboxControl, caplog: pytest.LogCaptureFixture
) -> None:
    ctl.clock(D0)
    a = ctl.contact("user", "a@example.com")
    ctl.contact("user", "b@example.com")
    lead = ctl.contact("lead", "a@example.com")
    other_lead = ctl.contact("lead", "c@example.com")
    ctl._post("/contacts/merge", {"from": lead["id"], "into": a["id"]})
    caplog.set_level(logging.WARNING, logger="tap_intercom")
    run = run_tap(
        sandbox.base_url,
        user_ids=[lead["id"], other_lead["id"], "ffffffffffffffffffffffff"],
        lead_ids=[other_lead["id"]],
    )
    assert run.ids("users") == [a["id"]]  # the merged lead's id leads to its user
    assert run.ids("leads") == [other_lead["id"]]
    assert "is a lead, not a user" in caplog.text
    assert "does not exist" in caplog.text
    assert run.bookmark("users") is None  # a read by ids moves no bookmark
    assert run.records("users")[0]["created_at"].endswith("+00:00")


def test_leads_without_state_or_start_date_lists_every_lead(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=50, leads=700)
    run = run_tap(sandbox.base_url)
    leads = run.records("leads")
    assert len(leads) == 700 == len({r["id"] for r in leads})
    assert all(r["role"] == "lead" for r in leads)
    # The clock is frozen at D0; the Date header's 1 s resolution may cost a second.
    assert run.bookmark("leads") in (iso(D0 - 601), iso(D0 - 600))


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        ({"access_token": ""}, "access_token is required"),
        ({"api_url": "http://example.com"}, "api_url must use https://"),
        ({"workspace_timezone": "Mars/Olympus"}, "workspace_timezone"),
        ({"replicate_by_created_at": ["nope"]}, "replicate_by_created_at"),
        ({"max_workers": 0}, "max_workers"),
        ({"region": "moon"}, "region"),
    ],
)
def test_settings_errors_are_one_clear_line(extra: dict, fragment: str) -> None:
    config = {"access_token": TOKEN, "api_url": "http://127.0.0.1:9", **extra}
    with pytest.raises(ConfigValidationError) as info:
        TapIntercom(config=config)
    text = " ".join(info.value.errors)
    assert fragment in text
    assert TOKEN not in text


def test_a_busy_day_is_read_as_id_parts_without_loss(
    sandbox: RunningSandbox, ctl: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = sandbox.backend
    with backend.lock:
        for i in range(600):  # spread over two months
            backend.clock.set(D0 - 60 * DAY + i * 8640, frozen=True)
            backend.contacts.create({"role": "user", "email": f"spread{i}@example.com"})
        for i in range(2400):  # one busy day
            backend.clock.set(D0 - 5 * DAY + 30 + i * 30, frozen=True)
            backend.contacts.create({"role": "user", "email": f"busy{i}@example.com"})
        backend.clock.set(D0, frozen=True)
    queries: list[str] = []
    original = IntercomClient.search_raw

    def spy(self: IntercomClient, path: str, query: dict, **kwargs: Any) -> bytes:
        queries.append(json.dumps(query))
        return original(self, path, query, **kwargs)

    monkeypatch.setattr(IntercomClient, "search_raw", spy)
    run = run_tap(sandbox.base_url, start_date=iso(D0 - 90 * DAY), max_workers=4)
    ids = run.ids("users")
    assert len(ids) == len(set(ids)) == 3000
    assert any('"operator": "$"' in q for q in queries)


def test_a_wrong_token_ends_the_cli_with_one_clear_line(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    secret = "tok-WRONG-0123456789"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"access_token": secret, "api_url": sandbox.base_url}))
    script = Path(sys.executable).with_name("tap-intercom")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "tap_intercom.tap"]
    result = subprocess.run(
        [*command, "--config", str(config)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "Fix the access_token setting" in result.stderr
    assert "Traceback" not in result.stderr
    assert secret not in result.stderr + result.stdout


def test_every_search_page_sends_per_page_150_sort_and_cursor_in_the_body(
    sandbox: RunningSandbox, ctl: SandboxControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    ctl.clock(D0)
    ctl.seed(users=900, leads=100, conversations=200)
    sent: list[tuple[str, Any, dict[str, Any]]] = []
    original = requests.Session.request

    def spy(self: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
        if url.endswith("/search"):
            sent.append((url, kwargs.get("params"), json.loads(kwargs["data"])))
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    run = run_tap(
        sandbox.base_url, start_date=iso(D0 - 400 * DAY), replicate_by_created_at=["leads"]
    )
    assert len(run.records("users")) == 900
    pages = [body for _, _, body in sent]
    assert len(pages) >= 8 and any("starting_after" in b["pagination"] for b in pages)
    for url, params, body in sent:
        assert not params  # nothing in the query string (FACTS.md §2.6)
        assert body["pagination"]["per_page"] == 150
        is_leads = '"value": "lead"' in json.dumps(body)
        field = "created_at" if is_leads else "updated_at"
        assert body["sort"] == {"field": field, "order": "ascending"}, url
