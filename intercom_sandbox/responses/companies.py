"""HTTP handlers for /companies: upsert, lookups, update, delete, list, scroll, contacts.

Rules live in ``models/companies.py``; these shape the bodies as the 2.16 spec does
(``company``, ``company_list``, ``company_scroll``, ``deleted_company_object``...).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.models.paging import page_params, paginate
from intercom_sandbox.server import Request

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend


def create_or_update_company(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.companies
    return store.render(store.create_or_update(req.body_object()))


def retrieve_company(backend: Backend, req: Request) -> dict[str, Any]:
    """GET /companies: one company by ``company_id`` or ``name``, else a filtered list.

    A lookup by ``company_id`` / ``name`` answers the company itself (as Intercom does, and
    as python-intercom's ``CompaniesRetrieveResponse`` union expects), 404 if none; the
    spec only documents the list shape. ``tag_id`` / ``segment_id`` filter the list.
    """
    store = backend.companies
    q = req.query
    if q.get("company_id") or q.get("name"):
        company = (
            store.by_company_id(q["company_id"])
            if q.get("company_id")
            else store.by_name(q["name"])
        )
        if company is None:
            raise exc.CompanyNotFound()
        return store.render(company)
    rows = store.with_users()
    if q.get("tag_id"):
        rows = [c for c in rows if q["tag_id"] in c["tag_ids"]]
    if q.get("segment_id"):
        if q["segment_id"] not in backend.workspace.segments:
            raise exc.NotFound("Segment Not Found")
        rows = []  # company segments are not modelled: no company belongs to one
    rows.sort(key=lambda c: c["created_at"], reverse=True)
    page, per_page = page_params(q, default_per_page=15, max_per_page=60)
    window, pages = paginate(rows, page, per_page)
    return {
        "type": "list",
        "data": [store.render(c) for c in window],
        "pages": pages,
        "total_count": len(rows),
    }


def retrieve_company_by_id(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.companies
    return store.render(store.require(req.path_params["company_id"]))


def update_company(backend: Backend, req: Request) -> dict[str, Any]:
    store = backend.companies
    return store.render(store.update(req.path_params["company_id"], req.body_object()))


def delete_company(backend: Backend, req: Request) -> dict[str, Any]:
    company = backend.companies.delete(req.path_params["company_id"])
    return {"id": company["id"], "object": "company", "deleted": True}


def list_all_companies(backend: Backend, req: Request) -> dict[str, Any]:
    """POST /companies/list: page / per_page / order, by last_request_at, max 10,000.

    The parameters are query parameters in the spec; a JSON body with the same keys is
    read too. ``total_count`` is the number of companies with users, even past the cap.
    """
    params: dict[str, Any] = {}
    if req.raw_body.strip():
        body = req.body_object()
        params.update({k: body[k] for k in ("page", "per_page", "order") if k in body})
    params.update(req.query)
    order = params.get("order") or "desc"
    if order not in ("asc", "desc"):
        raise exc.ParameterInvalid("order must be asc or desc", field="order")
    store = backend.companies
    page, per_page = page_params(params, default_per_page=15, max_per_page=60)
    rows, total = store.listed(order)
    window, pages = paginate(rows, page, per_page)
    return {
        "type": "list",
        "data": [store.render(c) for c in window],
        "pages": pages,
        "total_count": total,
    }


def scroll_companies(backend: Backend, req: Request) -> dict[str, Any]:
    """GET /companies/scroll: ``company_scroll`` pages of 100; one open scroll per app."""
    store = backend.companies
    page, param = store.scroll(req.query.get("scroll_param") or None)
    return {
        "type": "list",
        "data": [store.render(c) for c in page],
        "pages": None,
        "total_count": None,
        "scroll_param": param,
    }


def list_attached_contacts(backend: Backend, req: Request) -> dict[str, Any]:
    """The company's contacts as a ``list`` of full contacts, page-based (50 per page)."""
    company = backend.companies.require(req.path_params["company_id"])
    contacts = backend.contacts
    ids = contacts.contact_ids_for_company(company["id"])
    page, per_page = page_params(req.query, default_per_page=50, max_per_page=150)
    window, pages = paginate(ids, page, per_page)
    data = []
    for cid in window:
        contact = contacts.get(cid)
        if contact is not None:
            data.append(contacts.render(contact))
    return {"type": "list", "data": data, "total_count": len(ids), "pages": pages}


def list_company_segments(backend: Backend, req: Request) -> dict[str, Any]:
    """Company segments are not modelled: an existing company belongs to none."""
    backend.companies.require(req.path_params["company_id"])
    return {"type": "list", "data": []}
