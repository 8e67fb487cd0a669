"""HTTP handlers: /me, admins, activity logs, teams, tags, segments, data attributes,
data events and articles. Thin: parse the request, call the WorkspaceStore, shape the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from intercom_sandbox import exceptions as exc
from intercom_sandbox.models.paging import bool_param, int_param, page_params, paginate
from intercom_sandbox.server import Request, Response

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend


def base_url(req: Request) -> str:
    """Links in bodies point back at whichever host the client called."""
    host = req.headers.get("Host") if req.headers is not None else None
    return f"http://{host}" if host else "https://api.intercom.io"


def _next_url(req: Request, path: str, query: dict[str, Any]) -> Callable[[int], str]:
    """``pages.next`` as a URL of the next page (``query`` kept, ``page`` set).

    The spec types ``next`` on these lists as a ``starting_after`` object; Intercom serves
    a URL, which production clients follow as such (Airbyte's activity_logs stream puts it
    in the request path, TicketSwap's articles stream parses its query): see
    intercom_sandbox/README.md, "What real clients send".
    """
    root = base_url(req)
    kept = {k: v for k, v in query.items() if v is not None and v != ""}
    return lambda n: f"{root}{path}?{urlencode({**kept, 'page': n})}"


# -- admins -----------------------------------------------------------------------------------
def identify_admin(backend: Backend, req: Request) -> dict[str, Any]:
    """The token's admin and the app, whose ``timezone`` is the workspace's (settings)."""
    return backend.workspace.render_me()


def list_admins(backend: Backend, req: Request) -> dict[str, Any]:
    """``admin.list``, no pagination (FACTS.md §4)."""
    avatar = bool_param(req.query, "display_avatar")
    ws = backend.workspace
    return {
        "type": "admin.list",
        "admins": [ws.render_admin(a, avatar=avatar) for a in ws.admins.values()],
    }


def retrieve_admin(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    return ws.render_admin(ws.require_admin(req.path_params["admin_id"]))


def list_activity_logs(backend: Backend, req: Request) -> dict[str, Any]:
    """``created_at_after`` is required, ``created_at_before`` optional [S16:550]."""
    if not req.query.get("created_at_after"):
        raise exc.ParameterMissing("created_at_after is required", field="created_at_after")
    after = int_param(req.query, "created_at_after", 0, minimum=0)
    before = (
        int_param(req.query, "created_at_before", 0, minimum=0)
        if req.query.get("created_at_before")
        else None
    )
    page, per_page = page_params(req.query, default_per_page=20, max_per_page=60)
    query = {"created_at_after": after, "created_at_before": before, "per_page": per_page}
    next_url = _next_url(req, "/admins/activity_logs", query)
    logs, pages = paginate(
        backend.workspace.activity_between(after, before), page, per_page, next_value=next_url
    )
    return {"type": "activity_log.list", "pages": pages, "activity_logs": list(logs)}


# -- teams ------------------------------------------------------------------------------------
def list_teams(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    return {"type": "team.list", "teams": [ws.render_team(t) for t in ws.teams.values()]}


def retrieve_team(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    return ws.render_team(ws.get_team(req.path_params["team_id"]))


# -- tags -------------------------------------------------------------------------------------
def list_tags(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    return {"type": "list", "data": [ws.render_tag(t) for t in ws.tags.values()]}


def find_tag(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    tag = ws.get_tag(req.path_params["tag_id"])
    if tag is None:
        raise exc.NotFound()
    return ws.render_tag(tag)


def delete_tag(backend: Backend, req: Request) -> Response:
    """200 with no body [S16:18295]."""
    backend.workspace.delete_tag(req.path_params["tag_id"])
    return Response(200, None)


def _invalid_tag() -> exc.ParameterInvalid:
    return exc.ParameterInvalid("invalid tag parameters")


def create_tag(backend: Backend, req: Request) -> dict[str, Any]:
    """POST /tags: create or rename a tag, tag / untag companies, or tag users [S16:18155]."""
    body = req.body_object()
    ws = backend.workspace
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise _invalid_tag()

    if "companies" in body:
        items = body["companies"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise _invalid_tag()
        companies = []
        for item in items:
            company = None
            if item.get("id"):
                company = backend.companies.get(str(item["id"]))
            elif item.get("company_id"):
                company = backend.companies.by_company_id(str(item["company_id"]))
            if company is None:
                raise exc.CompanyNotFound()
            companies.append((company, item.get("untag") is True))
        tag = ws.create_tag(name)
        for company, untag in companies:
            backend.companies.tag(company, tag["id"], untag=untag)
        return {
            **ws.render_tag(tag),
            "users": [],
            "companies": [{"id": c["id"], "tagged": not untag} for c, untag in companies],
        }

    if "users" in body:
        items = body["users"]
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise _invalid_tag()
        contacts = []
        for item in items:
            contact = backend.contacts.get(str(item.get("id", "")))
            if contact is None:
                raise exc.UserNotFound()
            contacts.append(contact)
        tag = ws.create_tag(name)
        for contact in contacts:
            backend.contacts.attach_tag(contact["id"], tag["id"])
        return {
            **ws.render_tag(tag),
            "users": [{"id": c["id"], "tagged": True} for c in contacts],
            "companies": [],
        }

    if body.get("id") is not None:
        tag = ws.get_tag(str(body["id"]))
        if tag is None:
            raise exc.NotFound()
        return ws.render_tag(ws.rename_tag(tag, name))
    return ws.render_tag(ws.create_tag(name))


# -- segments ---------------------------------------------------------------------------------
def list_segments(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    count = bool_param(req.query, "include_count")
    return {
        "type": "segment.list",
        "segments": [ws.render_segment(s, count=count) for s in ws.segments.values()],
    }


def retrieve_segment(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    seg = ws.segments.get(req.path_params["segment_id"])
    if seg is None:
        raise exc.NotFound()
    return ws.render_segment(seg, count=bool_param(req.query, "include_count"))


# -- data attributes --------------------------------------------------------------------------
def list_data_attributes(backend: Backend, req: Request) -> dict[str, Any]:
    attrs = backend.workspace.data_attributes
    data = attrs.list(req.query.get("model") or None, bool_param(req.query, "include_archived"))
    return {"type": "list", "data": data}


def create_data_attribute(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    rec = ws.data_attributes.create(req.body_object(), admin_id=ws.owner["id"])
    return ws.data_attributes.render(rec)


def update_data_attribute(backend: Backend, req: Request) -> dict[str, Any]:
    attrs = backend.workspace.data_attributes
    rec = attrs.update(req.path_params["data_attribute_id"], req.body_object())
    return attrs.render(rec)


# -- data events ------------------------------------------------------------------------------
def create_data_event(backend: Backend, req: Request) -> Response:
    """202 Accepted with an empty body, duplicates included [S16:16059]."""
    backend.workspace.events.create(req.body_object())
    return Response(202, None)


def list_data_events(backend: Backend, req: Request) -> dict[str, Any]:
    """``event.list`` (``event.summary`` with ``summary=true``), < 90 days old only.

    The 2.16 spec gives ``data_event_summary`` as this operation's only 200 schema; the
    list itself is the spec's ``data_event_list`` (as Intercom's docs show it).
    """
    query = dict(req.query)
    # filter is a form-exploded object: ?user_id=..., or the deepObject ?filter[user_id]=...
    for key in ("user_id", "email", "intercom_user_id"):
        deep = query.pop(f"filter[{key}]", None)
        if deep and not query.get(key):
            query[key] = deep
    return backend.workspace.events.list_for(query, base_url(req))


# -- articles ---------------------------------------------------------------------------------
def list_articles(backend: Backend, req: Request) -> dict[str, Any]:
    """Newest update first [S16:2108]; ``pages.next`` is the next page's URL."""
    ws = backend.workspace
    page, per_page = page_params(req.query, default_per_page=25, max_per_page=250)
    articles = sorted(ws.articles.values(), key=lambda a: a["updated_at"], reverse=True)
    next_url = _next_url(req, "/articles", {"per_page": per_page})
    window, pages = paginate(articles, page, per_page, next_value=next_url)
    return {
        "type": "list",
        "pages": pages,
        "total_count": len(articles),
        "data": [ws.render_article(a, statistics=False) for a in window],
    }


ARTICLE_STATES = ("published", "draft", "all")


def search_articles(backend: Backend, req: Request) -> dict[str, Any]:
    """GET /articles/search [S16:3185]: ``phrase`` (case-insensitive, in title, description
    or body; none = every article), ``state`` (published | draft | all, default all),
    page-number paging (default 10 per page, as the spec's example). ``help_center_id``
    is accepted (one help center); ``highlight`` is accepted, highlights stay empty.
    """
    ws = backend.workspace
    phrase = (req.query.get("phrase") or "").strip().lower()
    state = req.query.get("state") or "all"
    if state not in ARTICLE_STATES:
        raise exc.ParameterInvalid(
            f"state must be one of {', '.join(ARTICLE_STATES)}", field="state"
        )
    bool_param(req.query, "highlight")
    page, per_page = page_params(req.query, default_per_page=10, max_per_page=250)
    found = [
        a
        for a in ws.articles.values()
        if (state == "all" or a["state"] == state)
        and (
            not phrase
            or any(phrase in (a[k] or "").lower() for k in ("title", "description", "body"))
        )
    ]
    found.sort(key=lambda a: (a["updated_at"], a["id"]), reverse=True)
    query = {"phrase": req.query.get("phrase"), "state": req.query.get("state")}
    next_url = _next_url(req, "/articles/search", {**query, "per_page": per_page})
    window, pages = paginate(found, page, per_page, next_value=next_url)
    return {
        "type": "list",
        "total_count": len(found),
        "data": {
            "articles": [ws.render_article(a, statistics=True) for a in window],
            "highlights": [],
        },
        "pages": pages,
    }


def retrieve_article(backend: Backend, req: Request) -> dict[str, Any]:
    ws = backend.workspace
    article = ws.articles.get(req.path_params["article_id"])
    if article is None:
        raise exc.NotFound()
    return ws.render_article(article, statistics=True)
