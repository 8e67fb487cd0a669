"""HTTP handlers for /contacts (thin: parse the request, call the ContactStore, shape the body).

Every handler named ``contacts.*`` in urls.py lives here. Rules live in
models/contacts.py; search evaluation in search.py.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.responses.workspace import base_url
from intercom_sandbox.search import pages, parse_search

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend
    from intercom_sandbox.models.contacts import Contact
    from intercom_sandbox.server import Request

LIST_DEFAULT_PER_PAGE = 50  # FACTS.md §2.5
MAX_PER_PAGE = 150


def _int_query(req: Request, name: str, default: int, maximum: int | None = None) -> int:
    raw = req.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as e:
        raise exc.ParameterInvalid(f"{name} must be an integer", field=name) from e
    if value < 1 or (maximum is not None and value > maximum):
        bound = f"between 1 and {maximum}" if maximum is not None else "at least 1"
        raise exc.ParameterInvalid(f"{name} must be {bound}", field=name)
    return value


def _merge_history(req: Request) -> bool:
    return str(req.query.get("include_merge_history", "")).lower() in ("true", "1")


def _single(backend: Backend, req: Request, contact: Contact) -> dict[str, Any]:
    return backend.contacts.render(contact, single=True, merge_history=_merge_history(req))


def _id_from_body(req: Request, what: str) -> str:
    """The ``{"id": ...}`` body of attach calls; missing -> 400 parameter_not_found."""
    body = req.json
    value = body.get("id") if isinstance(body, dict) else None
    if value is None or value == "" or isinstance(value, (bool, list, dict)):
        raise exc.ParameterNotFound(f"{what} not specified", field="id")
    return str(value)


def _page_links(req: Request, total: int, page: int, per_page: int) -> dict[str, Any]:
    """``pages_link``: page-number paging whose ``next`` is an absolute URL (or null).

    Absolute, as the spec's ``format: uri`` says and as singer-io/tap-intercom needs: it
    requests ``pages.next`` as the URL of the next page.
    """
    total_pages = math.ceil(total / per_page) if total else 0
    nxt = None
    if page < total_pages:
        path = req.path.replace("{contact_id}", req.path_params.get("contact_id", ""))
        nxt = f"{base_url(req)}{path}?page={page + 1}&per_page={per_page}"
    return {
        "type": "pages",
        "next": nxt,
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
    }


# -- contacts ---------------------------------------------------------------------------------


def list_contacts(backend: Backend, req: Request) -> dict[str, Any]:
    """GET /contacts: creation order, cursor paging; archived and merged contacts excluded."""
    per_page = _int_query(req, "per_page", LIST_DEFAULT_PER_PAGE, MAX_PER_PAGE)
    store = backend.contacts
    docs, total, next_cursor, page = store.list_page(per_page, req.query.get("starting_after"))
    history = _merge_history(req)
    out_pages: dict[str, Any] = {
        "type": "pages",
        "page": page,
        "per_page": per_page,
        "total_pages": math.ceil(total / per_page) if total else 0,
    }
    if next_cursor is not None:
        out_pages["next"] = {"per_page": per_page, "starting_after": next_cursor}
    return {
        "type": "list",
        "data": [store.render(c, merge_history=history) for c in docs],
        "total_count": total,
        "pages": out_pages,
    }


def create_contact(backend: Backend, req: Request) -> dict[str, Any]:
    contact = backend.contacts.create(req.body_object(), api=True)
    return _single(backend, req, contact)


def search_contacts(backend: Backend, req: Request) -> dict[str, Any]:
    """POST /contacts/search. A ``starting_after`` in the query string is ignored (§2.6)."""
    store = backend.contacts
    options = store.search_options(req.version)
    parsed = parse_search(req.body_object(), store.search_spec, options=options)
    docs, total, next_cursor = store.search(parsed)
    history = _merge_history(req)
    return {
        "type": "list",
        "data": [store.render(c, merge_history=history) for c in docs],
        "total_count": total,
        "pages": pages(parsed, total, next_cursor),
    }


def merge_contacts(backend: Backend, req: Request) -> dict[str, Any]:
    body = req.body_object()
    for key in ("from", "into"):
        if not isinstance(body.get(key), str) or not body[key]:
            raise exc.ParameterNotFound(f"{key} not specified", field=key)
    skip = body.get("skip_duplicate_validation", False)
    if not isinstance(skip, bool):
        raise exc.ParameterInvalid(
            "skip_duplicate_validation must be true or false", field="skip_duplicate_validation"
        )
    contact = backend.contacts.merge(body["from"], body["into"], skip_duplicate_validation=skip)
    return _single(backend, req, contact)


def find_by_external_id(backend: Backend, req: Request) -> dict[str, Any]:
    contact = backend.contacts.find_user_by_external_id(req.path_params["external_id"])
    return _single(backend, req, contact)


def show_contact(backend: Backend, req: Request) -> dict[str, Any]:
    return _single(backend, req, backend.contacts.require(req.path_params["contact_id"]))


def update_contact(backend: Backend, req: Request) -> dict[str, Any]:
    contact = backend.contacts.update(req.path_params["contact_id"], req.body_object(), api=True)
    return _single(backend, req, contact)


def delete_contact(backend: Backend, req: Request) -> dict[str, Any]:
    contact = backend.contacts.delete(req.path_params["contact_id"])
    return {**backend.contacts.reference(contact), "deleted": True}


def archive_contact(backend: Backend, req: Request) -> dict[str, Any]:
    contact = backend.contacts.archive(req.path_params["contact_id"])
    return {**backend.contacts.reference(contact), "archived": True}


def unarchive_contact(backend: Backend, req: Request) -> dict[str, Any]:
    contact = backend.contacts.unarchive(req.path_params["contact_id"])
    return {**backend.contacts.reference(contact), "archived": False}


# -- companies --------------------------------------------------------------------------------


def list_contact_companies(backend: Backend, req: Request) -> dict[str, Any]:
    contact = backend.contacts.require(req.path_params["contact_id"])
    page = _int_query(req, "page", 1)
    per_page = _int_query(req, "per_page", LIST_DEFAULT_PER_PAGE, MAX_PER_PAGE)
    ids = backend.contacts.company_ids(contact)
    window = ids[(page - 1) * per_page : page * per_page]
    companies = backend.companies
    return {
        "type": "list",
        "companies": [companies.render(companies.get(i)) for i in window],
        "total_count": len(ids),
        "pages": _page_links(req, len(ids), page, per_page),
    }


def attach_company(backend: Backend, req: Request) -> dict[str, Any]:
    contact_id = req.path_params["contact_id"]
    backend.contacts.require(contact_id)
    company_id = _id_from_body(req, "company")
    company = backend.contacts.attach_company(contact_id, company_id)
    return backend.companies.render(company)


def detach_company(backend: Backend, req: Request) -> dict[str, Any]:
    company = backend.contacts.detach_company(
        req.path_params["contact_id"], req.path_params["company_id"]
    )
    return backend.companies.render(company)


# -- tags -------------------------------------------------------------------------------------


def _applied_tag(backend: Backend, tag: dict[str, Any], applied_at: int | None) -> dict[str, Any]:
    """A tag as a tagging operation returns it: with ``applied_at`` and ``applied_by``."""
    out = dict(backend.workspace.render_tag(tag))
    out["applied_at"] = applied_at
    # The sandbox does not record who tagged; the token's admin (the workspace owner) did.
    owner = getattr(backend.workspace, "owner", None)
    if owner is not None:
        out["applied_by"] = {"type": "admin", "id": owner["id"]}
    return out


def list_contact_tags(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.contacts
    contact = store.require(req.path_params["contact_id"])
    ws = backend.workspace
    return {
        "type": "list",
        "data": [
            _applied_tag(backend, ws.get_tag(t), store.tag_applied_at(contact, t))
            for t in store.tag_ids(contact)
        ],
    }


def attach_tag(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.contacts
    contact_id = req.path_params["contact_id"]
    store.require(contact_id)
    tag = store.attach_tag(contact_id, _id_from_body(req, "tag"))
    contact = store.require(contact_id)
    return _applied_tag(backend, tag, store.tag_applied_at(contact, str(tag["id"])))


def detach_tag(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.contacts
    contact_id, tag_id = req.path_params["contact_id"], req.path_params["tag_id"]
    applied_at = store.tag_applied_at(store.require(contact_id), tag_id)
    tag = store.detach_tag(contact_id, tag_id)
    return _applied_tag(backend, tag, applied_at)


# -- notes and segments -----------------------------------------------------------------------


def list_notes(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.contacts
    contact = store.require(req.path_params["contact_id"])
    page = _int_query(req, "page", 1)
    per_page = _int_query(req, "per_page", LIST_DEFAULT_PER_PAGE, MAX_PER_PAGE)
    notes = store.notes_for(contact)
    total_pages = math.ceil(len(notes) / per_page) if notes else 0
    window = notes[(page - 1) * per_page : page * per_page]
    out_pages: dict[str, Any] = {
        "type": "pages",
        "next": None,
        "page": page,
        "per_page": per_page,
        "total_pages": total_pages,
    }
    if page < total_pages:
        out_pages["next"] = {"page": page + 1, "per_page": per_page}
    return {
        "type": "list",
        "data": [store.render_note(n) for n in window],
        "total_count": len(notes),
        "pages": out_pages,
    }


def create_note(backend: Backend, req: Request) -> dict[str, Any]:
    body = req.body_object()
    return backend.contacts.add_note(
        req.path_params["contact_id"], body.get("body"), body.get("admin_id")
    )


def list_contact_segments(backend: Backend, req: Request) -> dict[str, Any]:
    contact = backend.contacts.require(req.path_params["contact_id"])
    return {"type": "list", "data": backend.workspace.segments_for_contact(contact)}
