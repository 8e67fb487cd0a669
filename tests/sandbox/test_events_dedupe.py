"""POST /events de-duplication, exactly as Intercom documents it and no more.

[S16:16059] (FACTS.md §4): "Each event is uniquely identified as a combination of ... the
Workspace identifier, the Contact external identifier, the Data Event name and the Data Event
created time." Read literally: the key is the contact's external id, whichever identifier
(user_id, id or email) the request named the contact by, and an event of a contact without
an external id has no key: it is never de-duplicated.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from intercom_sandbox.server import RunningSandbox, start

TOKEN = "sandbox-token"
T = 1_714_564_800


@pytest.fixture(scope="module")
def events_api() -> Iterator[tuple[RunningSandbox, requests.Session]]:
    sbx = start(tokens=[TOKEN], random_seed=1)
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.16"})
    s.base = sbx.base_url  # type: ignore[attr-defined]
    try:
        yield sbx, s
    finally:
        s.close()
        sbx.stop()


def _contact(api: requests.Session, email: str, external_id: str | None) -> dict[str, Any]:
    body = {"role": "user", "email": email, **({"external_id": external_id} if external_id else {})}
    r = api.post(f"{api.base}/contacts", json=body)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    return r.json()


def _send(api: requests.Session, contact: dict[str, Any], by: str, name: str, at: int) -> None:
    ident = {"user_id": contact.get("external_id"), "id": contact["id"], "email": contact["email"]}
    body = {"event_name": name, "created_at": at, by: ident[by]}
    r = api.post(f"{api.base}/events", json=body)  # type: ignore[attr-defined]
    assert r.status_code == 202, r.text


def _stored(sbx: RunningSandbox) -> int:
    return len(sbx.backend.dump()["workspace"]["events"])


def test_the_key_is_the_contacts_external_id_whatever_identifier_named_it(
    events_api: tuple[RunningSandbox, requests.Session],
) -> None:
    sbx, api = events_api
    sbx.backend.reset()
    ada = _contact(api, "ada@example.com", "ada-1")
    for by in ("user_id", "id", "email", "user_id"):
        _send(api, ada, by, "ordered", T)
    assert _stored(sbx) == 1
    _send(api, ada, "id", "ordered", T + 1)  # another created_at: another event
    _send(api, ada, "email", "paid", T)  # another name: another event
    assert _stored(sbx) == 3


def test_a_contact_without_external_id_is_never_deduplicated(
    events_api: tuple[RunningSandbox, requests.Session],
) -> None:
    sbx, api = events_api
    sbx.backend.reset()
    bob = _contact(api, "bob@example.com", None)
    _send(api, bob, "id", "ordered", T)
    _send(api, bob, "id", "ordered", T)
    _send(api, bob, "email", "ordered", T)
    assert _stored(sbx) == 3


def test_two_contacts_sharing_name_and_time_are_distinct(
    events_api: tuple[RunningSandbox, requests.Session],
) -> None:
    sbx, api = events_api
    sbx.backend.reset()
    for i in range(2):
        _send(api, _contact(api, f"u{i}@example.com", f"u-{i}"), "user_id", "ordered", T)
    assert _stored(sbx) == 2


SENDS = st.lists(
    st.tuples(
        st.integers(0, 3),  # which contact (0, 1 have an external id; 2, 3 do not)
        st.sampled_from(["user_id", "id", "email"]),
        st.sampled_from(["ordered", "paid"]),
        st.sampled_from([T, T + 1]),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(sends=SENDS)
def test_stored_events_are_the_documented_keys_plus_every_unkeyed_send(
    events_api: tuple[RunningSandbox, requests.Session],
    sends: list[tuple[int, str, str, int]],
) -> None:
    sbx, api = events_api
    sbx.backend.reset()
    contacts = [_contact(api, f"c{i}@example.com", f"ext-{i}" if i < 2 else None) for i in range(4)]
    keys: set[tuple[str, str, int]] = set()
    unkeyed = 0
    for who, by, name, at in sends:
        contact = contacts[who]
        if by == "user_id" and not contact.get("external_id"):
            by = "id"  # a contact without an external id cannot be named by one
        _send(api, contact, by, name, at)
        if contact.get("external_id"):
            keys.add((contact["external_id"], name, at))
        else:
            unkeyed += 1
    assert _stored(sbx) == len(keys) + unkeyed
