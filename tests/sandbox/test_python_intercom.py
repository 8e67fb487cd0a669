"""The official python-intercom client (5.x), pointed at the sandbox with ``base_url``, works.

A second, independent reading of the API: if the sandbox's shapes drifted from Intercom's,
this client's typed models would fail to parse them.
"""

from __future__ import annotations

import pytest
import requests

intercom = pytest.importorskip("intercom")

from intercom import (  # noqa: E402
    CreateContactRequestWithEmail,
    Intercom,
    MultipleFilterSearchRequest,
    SingleFilterSearchRequest,
    StartingAfterPaging,
)

TOKEN = "sandbox-token"


@pytest.fixture
def client(sandbox):
    requests.post(
        f"{sandbox.base_url}/_sandbox/seed",
        json={"users": 30, "leads": 10, "companies": 5, "conversations": 25},
        timeout=30,
    ).raise_for_status()
    return Intercom(token=TOKEN, base_url=sandbox.base_url)


def test_contacts_create_find_update(client):
    created = client.contacts.create(
        request=CreateContactRequestWithEmail(email="ada@example.com", name="Ada Lovelace")
    )
    assert created.id and created.email == "ada@example.com"
    found = client.contacts.find(created.id)
    assert found.name == "Ada Lovelace"
    updated = client.contacts.update(created.id, name="Ada King")
    assert updated.name == "Ada King"
    assert client.contacts.find(created.id).name == "Ada King"


def test_contacts_list_walks_every_contact(client, sandbox):
    ids = [c.id for c in client.contacts.list(per_page=7)]
    assert len(ids) == len(set(ids)) == 40


def test_contacts_search_by_role_with_manual_cursor(client):
    # python-intercom 5.0.1's search pager re-reads page 1 (FACTS §1): page by hand.
    query = SingleFilterSearchRequest(field="role", operator="=", value="lead")
    seen: list[str] = []
    cursor = None
    while True:
        pager = client.contacts.search(
            query=query, pagination=StartingAfterPaging(per_page=4, starting_after=cursor)
        )
        page = pager.response
        seen.extend(c.id for c in page.data)
        nxt = page.pages.next if page.pages else None
        if not nxt or not nxt.starting_after:
            break
        cursor = nxt.starting_after
    assert len(seen) == len(set(seen)) == 10


def test_contacts_search_group_query(client):
    query = MultipleFilterSearchRequest(
        operator="AND",
        value=[
            SingleFilterSearchRequest(field="role", operator="=", value="user"),
            SingleFilterSearchRequest(field="created_at", operator=">", value=0),
        ],
    )
    page = client.contacts.search(
        query=query, pagination=StartingAfterPaging(per_page=150)
    ).response
    assert page.total_count == 30
    assert {c.role for c in page.data} == {"user"}


def test_conversations_list_search_find(client):
    listed = list(client.conversations.list(per_page=10))
    assert len(listed) == 25
    page = client.conversations.search(
        query=SingleFilterSearchRequest(field="created_at", operator=">", value=0),
        pagination=StartingAfterPaging(per_page=150),
    ).response
    assert page.total_count == 25
    full = client.conversations.find(listed[0].id)
    assert full.id == listed[0].id
    assert full.conversation_parts is not None


def test_companies_tags_admins(client):
    company = client.companies.create_or_update(request={"company_id": "acme-1", "name": "Acme"})
    assert client.companies.find(company.id).name == "Acme"
    tag = client.tags.create(request={"name": "vip"})
    assert tag.name == "vip"
    assert "vip" in {t.name for t in client.tags.list().data}
    admins = client.admins.list()
    assert admins.admins
    me = client.admins.identify()
    assert me is not None and me.id
