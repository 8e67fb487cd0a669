"""HTTP handlers for conversations (list, search, retrieve, delete, deleted ids) and the two
ticket operations (search, retrieve). Rules live in ``models/conversations.py`` and
``models/tickets.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from intercom_sandbox import exceptions as exc
from intercom_sandbox.models.errors import VersionUnavailable
from intercom_sandbox.models.paging import bool_param, int_param, page_params, paginate
from intercom_sandbox.responses.workspace import base_url
from intercom_sandbox.search import pages
from intercom_sandbox.server import Request
from intercom_sandbox.settings import PREVIEW_VERSIONS

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

DELETED_SINCE_VERSION = "2.16"


def list_conversations(backend: Backend, req: Request) -> dict[str, Any]:
    """Cursor pages (default 20, max 150) under ``conversations``, no parts [S16:10724]."""
    per_page = int_param(req.query, "per_page", 20)
    if per_page > 150:
        raise exc.ParameterInvalid("per_page must be between 1 and 150", field="per_page")
    store = backend.conversations
    window, page_no, total, nxt = store.list_page(per_page, req.query.get("starting_after"))
    page_obj: dict[str, Any] = {
        "type": "pages",
        "page": page_no,
        "per_page": per_page,
        "total_pages": -(-total // per_page) if total else 0,
    }
    if nxt is not None:
        page_obj["next"] = {"per_page": per_page, "starting_after": nxt}
    return {
        "type": "conversation.list",
        "pages": page_obj,
        "total_count": total,
        "conversations": [store.render(c) for c in window],
    }


def search_conversations(backend: Backend, req: Request) -> dict[str, Any]:
    """The search DSL, second-precise, ``>``/``<`` inclusive (FACTS.md §3)."""
    store = backend.conversations
    parsed, page, total, nxt = store.search(req.body_object())
    return {
        "type": "conversation.list",
        "pages": pages(parsed, total, nxt),
        "total_count": total,
        "conversations": [store.render(c) for c in page],
    }


def retrieve_conversation(backend: Backend, req: Request) -> dict[str, Any]:
    """With parts (the 500 most recent); ``display_as=plaintext`` strips the HTML."""
    store = backend.conversations
    conv = store.require(req.path_params["conversation_id"])
    plaintext = (req.query.get("display_as") or "").lower() == "plaintext"
    return store.render(conv, parts=True, plaintext=plaintext)


def delete_conversation(backend: Backend, req: Request) -> dict[str, Any]:
    retain = bool_param(req.query, "retain_metrics", default=True)
    entry = backend.conversations.delete(req.path_params["conversation_id"], retain_metrics=retain)
    return {"id": entry["id"], "object": "conversation", "deleted": True}


def list_deleted_conversations(backend: Backend, req: Request) -> dict[str, Any]:
    """GET /conversations/deleted: 2.16 only; page-based, default 20, max 60 (FACTS.md §3)."""
    if req.version != DELETED_SINCE_VERSION and req.version not in PREVIEW_VERSIONS:
        raise VersionUnavailable()
    order = req.query.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise exc.ParameterInvalid("order must be asc or desc", field="order")
    page, per_page = page_params(req.query, default_per_page=20, max_per_page=60)
    # What order sorts on is a switch (settings.deleted_order): the spec does not say.
    by_id = backend.settings.deleted_order == "id"
    rows = sorted(
        backend.conversations.deleted,
        key=lambda e: (int(e["id"]),) if by_id else (e["deleted_at"], int(e["id"])),
        reverse=order == "desc",
    )
    root = base_url(req)

    def next_url(n: int) -> str:
        query = urlencode({"per_page": per_page, "order": order, "page": n})
        return f"{root}/conversations/deleted?{query}"

    window, page_obj = paginate(rows, page, per_page, next_value=next_url)
    return {
        "type": "conversations.list",
        "total_count": len(rows),
        "pages": page_obj,
        "conversations": [
            {
                "type": "conversation",
                "id": e["id"],
                "metrics_retained": e["metrics_retained"],
                "deleted_at": e["deleted_at"],
            }
            for e in window
        ],
    }


def search_tickets(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.tickets
    parsed, page, total, nxt = store.search(req.body_object())
    return {
        "type": "ticket.list",
        "pages": pages(parsed, total, nxt),
        "total_count": total,
        "tickets": [store.render(t) for t in page],
    }


def get_ticket(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.tickets
    return store.render(store.require(req.path_params["ticket_id"]))
