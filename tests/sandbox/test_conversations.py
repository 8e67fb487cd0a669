"""Conversations and tickets in the sandbox (FACTS.md §3): list, search, parts, deletions."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from intercom_sandbox.server import RunningSandbox

T0 = 1_700_000_000


class World:
    """Conversations written through the model, at chosen times, for one test."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.backend = sandbox.backend
        self.store = sandbox.backend.conversations
        b = self.backend
        with b.lock:
            self.user = b.contacts.create(
                {"role": "user", "email": "ada@example.com", "name": "Ada"}
            )
            self.lead = b.contacts.create({"role": "lead"})  # no e-mail, no name
            self.admin = b.workspace.owner

    def conversation(
        self, at: int, *, lead: bool = False, body: str = "<p>I need support</p>", parts: int = 0
    ) -> dict[str, Any]:
        contact = self.lead if lead else self.user
        with self.backend.lock:
            conv = self.store.create(
                author=self.store.author_for_contact(contact),
                contact_ids=[contact["id"]],
                body=body,
                created_at=at,
            )
            for i in range(parts):
                self.store.add_part(
                    conv,
                    part_type="comment",
                    author=self.store.author_for_admin(self.admin),
                    body=f"<p>reply {i}</p>",
                    created_at=at + i + 1,
                )
        return conv


@pytest.fixture
def world(sandbox: RunningSandbox) -> World:
    return World(sandbox)


def _search(api: requests.Session, query: dict[str, Any], **extra: Any) -> dict[str, Any]:
    r = api.post(f"{api.base}/conversations/search", json={"query": query, **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_list_walks_every_conversation_newest_update_first(api, world):
    made = [world.conversation(T0 + i * 100) for i in range(7)]
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"per_page": 3}
    pages = 0
    while True:
        body = api.get(f"{api.base}/conversations", params=params).json()
        assert body["type"] == "conversation.list" and body["total_count"] == 7
        seen += body["conversations"]
        pages += 1
        nxt = body["pages"].get("next")
        if not nxt:
            break
        params = {"per_page": 3, "starting_after": nxt["starting_after"]}
    assert pages == 3
    assert [c["id"] for c in seen] == [c["id"] for c in reversed(made)]
    assert all("conversation_parts" not in c for c in seen)  # list items carry no parts
    default = api.get(f"{api.base}/conversations").json()
    assert default["pages"]["per_page"] == 20


def test_list_rejects_bad_paging(api, world):
    world.conversation(T0)
    r = api.get(f"{api.base}/conversations", params={"per_page": 151})
    assert r.status_code == 400
    r = api.get(f"{api.base}/conversations", params={"starting_after": "garbage!"})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "client_error"


def test_conversation_shape_and_author_kinds(api, world):
    by_lead = world.conversation(T0, lead=True)
    body = api.get(f"{api.base}/conversations/{by_lead['id']}").json()
    assert body["type"] == "conversation" and body["state"] == "open" and body["open"] is True
    assert body["admin_assignee_id"] == 0 and body["team_assignee_id"] == 0
    author = body["source"]["author"]
    assert author == {"type": "lead", "id": world.lead["id"], "name": None, "email": None}
    assert body["source"]["delivered_as"] == "customer_initiated"
    assert body["contacts"] == {
        "type": "contact.list",
        "contacts": [{"type": "contact", "id": world.lead["id"], "external_id": None}],
    }
    assert body["conversation_parts"]["total_count"] == 0


def test_parts_update_state_statistics_and_updated_at(api, world):
    conv = world.conversation(T0)
    store, admin = world.store, world.store.author_for_admin(world.admin)
    with world.backend.lock:
        store.assign(conv, world.admin, created_at=T0 + 10)
        store.add_part(
            conv, part_type="comment", author=admin, body="<p>hi</p>", created_at=T0 + 60
        )
        store.add_part(conv, part_type="close", author=admin, created_at=T0 + 120)
    body = api.get(f"{api.base}/conversations/{conv['id']}").json()
    assert body["updated_at"] == T0 + 120
    assert body["state"] == "closed" and body["open"] is False and body["waiting_since"] is None
    assert body["admin_assignee_id"] == int(world.admin["id"])
    stats = body["statistics"]
    assert stats["first_admin_reply_at"] == T0 + 60 and stats["time_to_admin_reply"] == 60
    assert stats["time_to_assignment"] == 10 and stats["count_assignments"] == 1
    assert stats["last_closed_by_id"] == world.admin["id"]
    assert stats["count_conversation_parts"] == 3
    parts = body["conversation_parts"]["conversation_parts"]
    assert [p["part_type"] for p in parts] == ["assignment", "comment", "close"]
    assert [p["state"] for p in parts] == ["open", "open", "closed"]
    assert parts[0]["assigned_to"] == {"type": "admin", "id": world.admin["id"]}
    # A user's reply reopens it and makes it wait again.
    user = store.author_for_contact(world.user)
    with world.backend.lock:
        store.add_part(
            conv, part_type="comment", author=user, body="<p>no</p>", created_at=T0 + 500
        )
    body = api.get(f"{api.base}/conversations/{conv['id']}").json()
    assert body["state"] == "open" and body["waiting_since"] == T0 + 500
    assert body["statistics"]["count_reopens"] == 1


def test_retrieve_shows_the_500_most_recent_parts(api, world):
    conv = world.conversation(T0, parts=520)
    body = api.get(f"{api.base}/conversations/{conv['id']}").json()
    parts = body["conversation_parts"]
    assert parts["total_count"] == 520
    assert len(parts["conversation_parts"]) == 500
    bodies = [p["body"] for p in parts["conversation_parts"]]
    assert bodies[0] == "<p>reply 20</p>" and bodies[-1] == "<p>reply 519</p>"


def test_display_as_plaintext(api, world):
    html = '<p>See <a href="https://example.com/x">the guide</a> &amp; reply</p>'
    conv = world.conversation(T0, body=html, parts=1)
    plain = api.get(
        f"{api.base}/conversations/{conv['id']}", params={"display_as": "plaintext"}
    ).json()
    assert plain["source"]["body"] == "See the guide (https://example.com/x) & reply"
    assert plain["conversation_parts"]["conversation_parts"][0]["body"] == "reply 0"
    raw = api.get(f"{api.base}/conversations/{conv['id']}").json()
    assert raw["source"]["body"] == html


def test_unknown_conversation_is_404(api):
    for path in ("/conversations/123", "/conversations/abc"):
        r = api.get(f"{api.base}{path}")
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == "not_found"


def test_search_dates_are_second_precise_and_inclusive(api, world):
    a = world.conversation(T0)
    b = world.conversation(T0 + 1)
    world.conversation(T0 + 2)
    q = {"field": "created_at", "operator": ">", "value": T0 + 1}
    # `>` means >= (FACTS.md §3): T0+1 and T0+2 match, T0 does not.
    got = [c["created_at"] for c in _search(api, q)["conversations"]]
    assert sorted(got) == [T0 + 1, T0 + 2]
    lt = _search(api, {"field": "created_at", "operator": "<", "value": T0})
    assert [c["id"] for c in lt["conversations"]] == [a["id"]]
    eq = _search(api, {"field": "updated_at", "operator": "=", "value": T0 + 1})
    assert [c["id"] for c in eq["conversations"]] == [b["id"]]


def test_search_fields(api, world):
    support = world.conversation(T0, body="<p>I need support now</p>")
    billing = world.conversation(T0 + 5, lead=True, body="<p>Billing question</p>")
    token = _search(api, {"field": "source.body", "operator": "=", "value": "support"})
    assert [c["id"] for c in token["conversations"]] == [support["id"]]
    phrase = _search(api, {"field": "source.body", "operator": "=", "value": "need support"})
    assert phrase["total_count"] == 0  # a token match, not a phrase match
    by_contact = _search(api, {"field": "contact_ids", "operator": "=", "value": world.lead["id"]})
    assert [c["id"] for c in by_contact["conversations"]] == [billing["id"]]
    by_type = _search(api, {"field": "source.author.type", "operator": "=", "value": "lead"})
    assert by_type["total_count"] == 1
    group = {
        "operator": "AND",
        "value": [
            {"field": "state", "operator": "=", "value": "open"},
            {"field": "open", "operator": "=", "value": True},
        ],
    }
    assert _search(api, group)["total_count"] == 2
    r = api.post(
        f"{api.base}/conversations/search",
        json={"query": {"field": "nonsense", "operator": "=", "value": "x"}},
    )
    assert r.status_code == 400


def test_search_pages_with_cursor_and_sort(api, world):
    made = [world.conversation(T0 + i) for i in range(5)]
    query = {"field": "created_at", "operator": ">", "value": T0}
    sort = {"field": "created_at", "order": "descending"}
    seen: list[str] = []
    cursor = None
    while True:
        pagination: dict[str, Any] = {"per_page": 2}
        if cursor:
            pagination["starting_after"] = cursor
        page = _search(api, query, pagination=pagination, sort=sort)
        assert page["total_count"] == 5
        seen += [c["id"] for c in page["conversations"]]
        nxt = page["pages"].get("next")
        if not nxt:
            break
        cursor = nxt["starting_after"]
    assert seen == [c["id"] for c in reversed(made)]


def test_delete_and_deleted_ids(api, world):
    keep = world.conversation(T0)
    gone = [world.conversation(T0 + i) for i in (1, 2, 3)]
    world.backend.clock.set(T0 + 1000, frozen=True)
    r = api.delete(f"{api.base}/conversations/{gone[0]['id']}")
    assert r.json() == {"id": gone[0]["id"], "object": "conversation", "deleted": True}
    world.backend.clock.advance(10)
    r = api.delete(f"{api.base}/conversations/{gone[1]['id']}", params={"retain_metrics": "false"})
    assert r.status_code == 200
    world.backend.clock.advance(10)
    api.delete(f"{api.base}/conversations/{gone[2]['id']}")
    assert api.get(f"{api.base}/conversations/{gone[0]['id']}").status_code == 404
    listed = api.get(f"{api.base}/conversations").json()
    assert [c["id"] for c in listed["conversations"]] == [keep["id"]]
    found = _search(api, {"field": "created_at", "operator": ">", "value": 0})
    assert [c["id"] for c in found["conversations"]] == [keep["id"]]

    deleted = api.get(f"{api.base}/conversations/deleted", params={"per_page": 2}).json()
    assert deleted["total_count"] == 3
    items = deleted["conversations"]
    assert [i["id"] for i in items] == [gone[2]["id"], gone[1]["id"]]  # newest first
    assert items[1] == {
        "type": "conversation",
        "id": gone[1]["id"],
        "metrics_retained": False,
        "deleted_at": T0 + 1010,
    }
    assert "page=2" in deleted["pages"]["next"]
    asc = api.get(f"{api.base}/conversations/deleted", params={"order": "asc"}).json()
    assert [i["id"] for i in asc["conversations"]] == [g["id"] for g in gone]
    assert asc["pages"]["next"] is None
    clamp = api.get(f"{api.base}/conversations/deleted", params={"per_page": 500}).json()
    assert clamp["pages"]["per_page"] == 60


def test_deleted_ids_need_version_2_16(api):
    r = api.get(f"{api.base}/conversations/deleted", headers={"Intercom-Version": "2.15"})
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "intercom_version_invalid"


def test_tickets_search_and_get(api, world):
    backend = world.backend
    tickets = backend.tickets
    author = world.store.author_for_admin(world.admin)
    with backend.lock:
        tickets.ensure_defaults()
        types = {t["category"]: t["id"] for t in tickets.types.values()}
        bug = tickets.create(
            ticket_type_id=types["Customer"],
            contact_ids=[world.user["id"]],
            title="Cannot log in",
            author=author,
            created_at=T0,
        )
        task = tickets.create(
            ticket_type_id=types["Back-office"],
            contact_ids=[world.lead["id"]],
            title="Refund",
            created_at=T0 + 50,
            admin_assignee_id=world.admin["id"],
        )
        tickets.change_state(task, "resolved", author, at=T0 + 100)

    def search(query: dict[str, Any]) -> list[str]:
        r = api.post(f"{api.base}/tickets/search", json={"query": query})
        assert r.status_code == 200, r.text
        assert r.json()["type"] == "ticket.list"
        return [t["id"] for t in r.json()["tickets"]]

    # Category is searched with the terms request / task / tracker [S16:21090].
    assert search({"field": "category", "operator": "=", "value": "request"}) == [bug["id"]]
    assert search({"field": "category", "operator": "=", "value": "task"}) == [task["id"]]
    assert search({"field": "title", "operator": "~", "value": "log"}) == [bug["id"]]
    assert search({"field": "state", "operator": "=", "value": "resolved"}) == [task["id"]]
    assert search({"field": "open", "operator": "=", "value": True}) == [bug["id"]]
    admin_q = {"field": "admin_assignee_id", "operator": "=", "value": world.admin["id"]}
    assert search(admin_q) == [task["id"]]
    assert search({"field": "updated_at", "operator": ">", "value": T0 + 100}) == [task["id"]]

    got = api.get(f"{api.base}/tickets/{task['id']}").json()
    assert got["type"] == "ticket" and got["category"] == "Back-office"
    assert got["ticket_state"]["category"] == "resolved" and got["open"] is False
    assert got["ticket_attributes"]["_default_title_"] == "Refund"
    assert got["ticket_parts"]["ticket_parts"][-1]["previous_ticket_state"] == "submitted"
    assert got["contacts"]["contacts"][0]["id"] == world.lead["id"]
    assert api.get(f"{api.base}/tickets/999").status_code == 404
