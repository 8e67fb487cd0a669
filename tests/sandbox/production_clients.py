"""The three open-source Intercom taps as clients of the sandbox (their headers, the way they
walk a search), and the data their request shapes are checked against: shared by
test_production_shapes.py and test_production_search.py."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from typing import Any

import orjson
import requests
from support.spec import checker, spec_available

from intercom_sandbox.server import RunningSandbox

TOKEN = "sandbox-token"
DAY = 86_400
D0 = calendar.timegm((2024, 3, 5, 0, 0, 0))  # a Tuesday, 00:00 UTC


def _client(**headers: str) -> requests.Session:
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {TOKEN}", **headers})
    return s


def singer_io(sandbox: RunningSandbox, version: str = "2.12") -> requests.Session:
    """singer-io/tap-intercom client.py: Accept + Intercom-Version on every request
    (2.0, then 2.5, then 2.12), Content-Type on POST (requests' json= adds it)."""
    return _client(**{"Accept": "application/json", "Intercom-Version": version})


def airbyte(sandbox: RunningSandbox, version: str = "2.11") -> requests.Session:
    """Airbyte manifest.yaml: Accept: application/json, Intercom-Version "2.11" (2.10 and
    2.9 before)."""
    return _client(**{"Accept": "application/json", "Intercom-Version": version})


def ticketswap(sandbox: RunningSandbox, version: str = "2.14") -> requests.Session:
    """TicketSwap client.py: Content-Type: application/json on every request (GET too), no
    Accept of its own (requests sends */*), Intercom-Version 2.11 then 2.14."""
    return _client(**{"Content-Type": "application/json", "Intercom-Version": version})


def ok(r: requests.Response) -> Any:
    assert r.status_code == 200, r.text
    return r.json()


def q(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


def spec_errors_but_next_link(operation_id: str, body: dict[str, Any]) -> list[str]:
    """The spec check of a page whose ``pages.next`` is a URL: the rest must match."""
    if not spec_available():
        return []
    copy = orjson.loads(orjson.dumps(body))
    nxt = copy["pages"].get("next")
    assert nxt is None or nxt.startswith("http://"), nxt
    copy["pages"]["next"] = None
    return checker().errors(operation_id, 200, orjson.dumps(copy))


# -- data -----------------------------------------------------------------------------------
def contacts_at(sandbox: RunningSandbox, times: list[int], prefix: str = "c") -> list[str]:
    """Users whose created_at = updated_at = each of ``times``; their ids."""
    store = sandbox.backend.contacts
    with sandbox.backend.lock:
        return [
            store.create({"email": f"{prefix}{i}@example.com", "created_at": t, "updated_at": t})[
                "id"
            ]
            for i, t in enumerate(times)
        ]


def conversations_at(sandbox: RunningSandbox, times: list[int], body: str = "Hi") -> list[str]:
    """Conversations created (and last updated) at each of ``times``; their ids."""
    backend = sandbox.backend
    with backend.lock:
        contact = backend.contacts.create({"email": f"author{len(times)}-{times[0]}@example.com"})
        author = backend.conversations.author_for_contact(contact)
        return [
            backend.conversations.create(
                author=author, contact_ids=[contact["id"]], body=body, created_at=t
            )["id"]
            for t in times
        ]


def tickets_at(sandbox: RunningSandbox, times: list[int]) -> list[str]:
    backend = sandbox.backend
    with backend.lock:
        backend.tickets.ensure_defaults()
        contact = backend.contacts.create({"email": f"ticketer-{times[0]}@example.com"})
        type_id = next(iter(backend.tickets.types))
        return [
            backend.tickets.create(
                ticket_type_id=type_id, contact_ids=[contact["id"]], title=f"T{i}", created_at=t
            )["id"]
            for i, t in enumerate(times)
        ]


def walk_search(
    session: requests.Session, url: str, body: dict[str, Any], list_key: str, *, per_page: int
) -> Iterator[dict[str, Any]]:
    """Walk a search as singer-io and Airbyte do: the same body, ``per_page`` on every page,
    the cursor in the body's ``pagination``."""
    cursor = None
    seen_cursors: set[str] = set()
    while True:
        pagination: dict[str, Any] = {"per_page": per_page}
        if cursor:
            pagination["starting_after"] = cursor
        page = ok(session.post(url, json={**body, "pagination": pagination}))
        yield page
        assert len(page[list_key]) <= per_page
        nxt = page["pages"].get("next")
        if not nxt:
            return
        cursor = nxt["starting_after"]
        assert cursor not in seen_cursors
        seen_cursors.add(cursor)
