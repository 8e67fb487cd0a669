"""intercom_api.contacts: following merged contacts (410 + Link, FACTS.md §2.3), one helper
for the tap and the target."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from intercom_api import ClientSettings, IntercomClient
from intercom_api.contacts import (
    MAX_HOPS,
    following_merges,
    get_contact_following_merges,
    update_contact_following_merges,
)
from intercom_api.errors import GoneError
from intercom_sandbox.server import RunningSandbox

TOKEN = "sandbox-token"


@pytest.fixture
def client(sandbox: RunningSandbox) -> Iterator[IntercomClient]:
    settings = ClientSettings.from_config(
        {"access_token": TOKEN, "api_url": sandbox.base_url, "max_retries": 0}
    )
    with IntercomClient(settings) as c:
        yield c


def _post(api: requests.Session, path: str, body: Any) -> dict[str, Any]:
    r = api.post(f"{api.base}{path}", json=body)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    return r.json()


def merged_pair(api: requests.Session) -> tuple[dict[str, Any], dict[str, Any]]:
    """A lead merged into a user (FACTS.md §2.4): the lead's id now answers 410."""
    lead = _post(api, "/contacts", {"role": "lead", "email": "m@example.com"})
    user = _post(api, "/contacts", {"role": "user", "email": "m@example.com", "name": "U"})
    _post(api, "/contacts/merge", {"from": lead["id"], "into": user["id"]})
    return lead, user


def test_a_live_contact_is_returned_as_it_is(api: requests.Session, client: IntercomClient) -> None:
    user = _post(api, "/contacts", {"role": "user", "email": "live@example.com"})

    contact, final = get_contact_following_merges(client, user["id"])

    assert contact is not None and contact["id"] == final == user["id"]


def test_a_merged_contact_leads_to_the_one_it_became(
    api: requests.Session, client: IntercomClient
) -> None:
    lead, user = merged_pair(api)

    contact, final = get_contact_following_merges(client, lead["id"])

    assert final == user["id"] and contact is not None and contact["email"] == "m@example.com"


def test_an_update_through_a_merged_id_writes_the_canonical_contact(
    sandbox: RunningSandbox, api: requests.Session, client: IntercomClient
) -> None:
    lead, user = merged_pair(api)

    written, final = update_contact_following_merges(client, lead["id"], {"name": "Merged"})

    assert final == user["id"] and written["name"] == "Merged"
    ops = sandbox.app.stats.snapshot()["operations"]["UpdateContact"]
    assert ops == {"410": 1, "200": 1}


def test_a_missing_contact_is_none(client: IntercomClient) -> None:
    assert get_contact_following_merges(client, "0" * 24) == (None, "0" * 24)


def _gone(to: str | None) -> GoneError:
    headers = {"Link": f'</contacts/{to}>; rel="canonical"'} if to else {}
    return GoneError(410, "contact_merged", "merged", headers=headers)


def test_hops_are_bounded_and_loops_and_bare_410s_raise() -> None:
    chain = {f"c{i}": f"c{i + 1}" for i in range(MAX_HOPS + 1)}
    calls: list[str] = []

    def call(cid: str) -> str:
        calls.append(cid)
        if cid in chain:
            raise _gone(chain[cid])
        return cid

    assert following_merges("c1", call) == ("c4", "c4")  # three hops
    with pytest.raises(GoneError):
        following_merges("c0", call)  # four would be needed
    assert calls[-1] == f"c{MAX_HOPS}"

    def loop(cid: str) -> str:
        raise _gone("b" if cid == "a" else "a")

    with pytest.raises(GoneError):
        following_merges("a", loop)

    def bare(cid: str) -> str:
        raise _gone(None)

    with pytest.raises(GoneError):
        following_merges("a", bare)
