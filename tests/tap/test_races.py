"""Races with writes in the workspace: a contact deleted or merged between the search that
listed it and the look-ups of its tags and companies never aborts a sync."""

from __future__ import annotations

from typing import Any

import pytest
from tap_support import D0, SandboxControl, catalog_selecting, run_tap

from intercom_api import IntercomClient
from intercom_sandbox.server import RunningSandbox


def busy_contact(sandbox: RunningSandbox, ctl: SandboxControl, role: str, n: int) -> str:
    """A contact with more than 10 tags and 10 companies: more than a contact embeds."""
    b = sandbox.backend
    contact = ctl.contact(role, f"busy{n}-{role}@example.com")
    with b.lock:
        for i in range(12):
            tag = b.workspace.create_tag(f"tag-{role}-{n}-{i}")
            b.contacts.attach_tag(contact["id"], tag["id"])
            company = b.companies.create_or_update({"company_id": f"c-{role}-{n}-{i}"})
            b.contacts.attach_company(contact["id"], company["id"])
    return str(contact["id"])


@pytest.mark.parametrize("what", ["tags", "companies"])
@pytest.mark.parametrize("fate", ["deleted", "merged"])
def test_a_contact_gone_before_its_look_ups_is_emitted_and_the_sync_goes_on(
    sandbox: RunningSandbox,
    ctl: SandboxControl,
    monkeypatch: pytest.MonkeyPatch,
    what: str,
    fate: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctl.clock(D0)
    role = "lead" if fate == "merged" else "user"  # only a lead can be merged (FACTS §2.4)
    doomed = busy_contact(sandbox, ctl, role, 1)
    other = busy_contact(sandbox, ctl, role, 2)
    into = ctl.contact("user", "into@example.com")["id"]
    ctl.clock(D0 + 3600)
    b = sandbox.backend
    original_get = IntercomClient.get
    original_pages = IntercomClient.iter_pages
    struck: list[str] = []

    def strike(path: str) -> None:
        if doomed in path and not struck:
            struck.append(path)
            with b.lock:
                if fate == "deleted":
                    b.contacts.delete(doomed)
                else:
                    b.contacts.merge(doomed, into, skip_duplicate_validation=True)

    def get(self: IntercomClient, path: str, params: Any = None) -> dict[str, Any]:
        if path.endswith(f"/{what}"):
            strike(path)
        return original_get(self, path, params)

    def iter_pages(self: IntercomClient, path: str, **kwargs: Any) -> Any:
        if path.endswith(f"/{what}"):
            strike(path)
        return original_pages(self, path, **kwargs)

    monkeypatch.setattr(IntercomClient, "get", get)
    monkeypatch.setattr(IntercomClient, "iter_pages", iter_pages)
    stream = "leads" if role == "lead" else "users"
    with caplog.at_level("INFO", logger="tap_intercom"):
        run = run_tap(sandbox.base_url, catalog=catalog_selecting([stream]))
    assert struck, "the race was not staged"
    records = {r["id"]: r for r in run.records(stream)}
    assert set(records) >= {doomed, other}
    # The gone contact keeps what it showed; the other one has all 12.
    assert len(records[other][what]["data"]) == 12
    assert 0 < len(records[doomed][what]["data"]) <= 10
    assert any(doomed in r.getMessage() and fate in r.getMessage() for r in caplog.records)
