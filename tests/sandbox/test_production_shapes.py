"""The request shapes that widely used open-source Intercom taps send every day, each sent
exactly so to the sandbox, with Intercom's answer checked (status, shape, the right records).

One test (or parametrised case) per row of intercom_sandbox/README.md, "What real clients
send"; the row ids (S1, A6, T3...) are in the test names. Sources: singer-io/tap-intercom,
airbytehq/airbyte source-intercom, TicketSwap/tap-intercom (read for behaviour only).
Every response is checked against the 2.16 spec by the ``sandbox`` fixture, except where
``pages.next`` is a URL (the spec says an object; Intercom and its clients use a URL): those
tests check the rest of the body against the spec themselves.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from production_clients import (
    D0,
    DAY,
    airbyte,
    contacts_at,
    conversations_at,
    ok,
    singer_io,
    spec_errors_but_next_link,
    ticketswap,
)

from intercom_sandbox.server import RunningSandbox


# -- headers and versions (S1, A1, T1) ------------------------------------------------------
@pytest.mark.parametrize(
    ("client", "version"),
    [
        (singer_io, "2.0"),
        (singer_io, "2.5"),
        (singer_io, "2.12"),
        (airbyte, "2.9"),
        (airbyte, "2.10"),
        (airbyte, "2.11"),
        (ticketswap, "2.11"),
        (ticketswap, "2.14"),
    ],
)
def test_s1_a1_t1_pinned_versions_and_headers_reach_get_tags(sandbox, client, version):
    """Each tap's headers and pinned Intercom-Version on GET /tags (singer-io's token check,
    Airbyte's check stream): 200 with the tag list."""
    with sandbox.backend.lock:
        sandbox.backend.workspace.create_tag("vip")
    body = ok(client(sandbox, version).get(f"{sandbox.base_url}/tags"))
    assert body["type"] == "list" and [t["name"] for t in body["data"]] == ["vip"]


# -- workspace lists (S2, S4, S5, S6, A3, A5, T2) ---------------------------------------------
def test_s2_admins_then_each_admin(sandbox):
    """singer-io: GET /admins, then GET /admins/{id} for each admin listed."""
    with sandbox.backend.lock:
        sandbox.backend.workspace.create_admin(name="Ada", email="ada@example.com")
    s = singer_io(sandbox)
    listed = ok(s.get(f"{sandbox.base_url}/admins"))
    assert listed["type"] == "admin.list" and len(listed["admins"]) == 2
    for admin in listed["admins"]:
        one = ok(s.get(f"{sandbox.base_url}/admins/{admin['id']}"))
        assert one["type"] == "admin" and one["id"] == admin["id"]


@pytest.mark.parametrize("model", ["company", "contact"])
def test_s4_a5_data_attributes_by_model(sandbox, model):
    """GET /data_attributes?model=company|contact (singer-io, Airbyte): one page, no pages."""
    for client in (singer_io, airbyte):
        body = ok(
            client(sandbox).get(f"{sandbox.base_url}/data_attributes", params={"model": model})
        )
        assert body["type"] == "list" and body["data"]
        assert {a["model"] for a in body["data"]} == {model} and "pages" not in body


def test_s5_a3_segments_with_count_and_type_company(sandbox):
    """singer-io: GET /segments?include_count=true and ?type=company&include_count=true
    (``type`` is a 1.x parameter: not in the 2.x spec, ignored); Airbyte: GET /segments."""
    with sandbox.backend.lock:
        sandbox.backend.workspace.create_segment("Everyone", ("all",))
    contacts_at(sandbox, [D0, D0 + 1])
    base = f"{sandbox.base_url}/segments"
    counted = ok(singer_io(sandbox).get(base, params={"include_count": "true"}))
    assert counted["type"] == "segment.list" and counted["segments"][0]["count"] == 2
    typed = ok(singer_io(sandbox).get(base, params={"type": "company", "include_count": "true"}))
    assert typed == counted
    plain = ok(airbyte(sandbox).get(base))
    assert "count" not in plain["segments"][0]


@pytest.mark.parametrize("path", ["/admins", "/tags", "/teams"])
def test_t2_hist_a_get_lists_with_per_page_150(sandbox, path):
    """TicketSwap (and Airbyte's 6.27 manifest) put per_page=150 on every GET; these lists
    have no paging, so it is ignored. Also singer-io's GET /teams."""
    with sandbox.backend.lock:
        sandbox.backend.workspace.create_team("Support")
    key = {"/admins": "admins", "/tags": "data", "/teams": "teams"}[path]
    with_param = ok(ticketswap(sandbox).get(f"{sandbox.base_url}{path}", params={"per_page": 150}))
    assert with_param[key] == ok(singer_io(sandbox).get(f"{sandbox.base_url}{path}"))[key]


# -- companies (S3, A4, A10) ---------------------------------------------------------------
def _companies_with_users(sandbox: RunningSandbox, n: int) -> list[str]:
    backend = sandbox.backend
    with backend.lock:
        user = backend.contacts.create({"email": "member@example.com"})
        ids = []
        for i in range(n):
            company = backend.companies.create_or_update(
                {"company_id": f"co-{i}", "name": f"Co {i}"}
            )
            backend.contacts.attach_company(user["id"], company["id"])
            ids.append(company["id"])
        backend.companies.create_or_update({"company_id": "lonely"})  # no users: never listed
    return ids


@pytest.mark.parametrize("per_page", [None, "150"])
def test_s3_a4_companies_scroll_until_empty_page(sandbox, per_page):
    """GET /companies/scroll, then ?scroll_param=<last> until ``data`` is empty (singer-io,
    Airbyte); Airbyte's 6.27 manifest also sent per_page=150 (ignored: 100 a page). A
    second scroll while one is open is 400 scroll_exists (Airbyte retries it after 60 s)."""
    made = _companies_with_users(sandbox, 230)
    s = airbyte(sandbox)
    url = f"{sandbox.base_url}/companies/scroll"
    extra = {"per_page": per_page} if per_page else {}
    seen: list[str] = []
    params: dict[str, Any] = dict(extra)
    sizes = []
    while True:
        page = ok(s.get(url, params=params))
        sizes.append(len(page["data"]))
        if not page["data"]:
            break
        seen.extend(c["id"] for c in page["data"])
        if len(sizes) == 1:
            busy = s.get(url, params=extra)
            assert busy.status_code == 400 and busy.json()["errors"][0]["code"] == "scroll_exists"
        params = {**extra, "scroll_param": page["scroll_param"]}
    assert sizes == [100, 100, 30, 0]
    assert sorted(seen) == sorted(made)
    assert ok(s.get(url))["data"]  # the scroll ended: a new one may start


def test_a10_company_segments(sandbox):
    """Airbyte company_segments: GET /companies/{id}/segments for each scrolled company."""
    (company_id,) = _companies_with_users(sandbox, 1)
    body = ok(airbyte(sandbox).get(f"{sandbox.base_url}/companies/{company_id}/segments"))
    assert body == {"type": "list", "data": []}


# -- one conversation (S9, A9, T6) ----------------------------------------------------------
@pytest.mark.parametrize(
    ("client", "params"),
    [(singer_io, {"display_as": "plaintext"}), (airbyte, {}), (ticketswap, {"per_page": 150})],
)
def test_s9_a9_t6_one_conversation_with_parts(sandbox, client, params):
    """GET /conversations/{id}: singer-io adds display_as=plaintext, TicketSwap per_page=150
    (ignored), Airbyte nothing. The parts come with it."""
    (conv_id,) = conversations_at(sandbox, [D0], body="<p>Hello <b>there</b></p>")
    backend = sandbox.backend
    with backend.lock:
        conv = backend.conversations.require(conv_id)
        admin = backend.conversations.author_for_admin(backend.workspace.owner)
        backend.conversations.add_part(
            conv, part_type="comment", author=admin, body="<p>Hi!</p>", created_at=D0 + 5
        )
    body = ok(client(sandbox).get(f"{sandbox.base_url}/conversations/{conv_id}", params=params))
    parts = body["conversation_parts"]["conversation_parts"]
    assert body["id"] == conv_id and [p["part_type"] for p in parts] == ["comment"]
    plain = params.get("display_as") == "plaintext"
    assert body["source"]["body"] == ("Hello there" if plain else "<p>Hello <b>there</b></p>")
    assert parts[0]["body"] == ("Hi!" if plain else "<p>Hi!</p>")


# -- a contact's tags and companies (S10) ---------------------------------------------------
def test_s10_singer_addressable_lists_double_slash_and_next_url(sandbox):
    """singer-io reads a contact's ``tags.url`` / ``companies.url`` ("/contacts/{id}/...")
    when ``has_more``: GET base + "/" + url, i.e. //contacts/{id}/tags, with
    display_as=plaintext&per_page=60, then requests ``pages.next`` as a URL (with the same
    params again). Repeated slashes are one (as at Intercom's front end); ``next`` is an
    absolute URL (the spec's pages_link, format: uri)."""
    backend = sandbox.backend
    with backend.lock:
        contact = backend.contacts.create({"email": "many@example.com"})
        for i in range(12):
            tag = backend.workspace.create_tag(f"t{i}")
            backend.contacts.attach_tag(contact["id"], tag["id"])
        for i in range(61):
            company = backend.companies.create_or_update({"company_id": f"k{i}"})
            backend.contacts.attach_company(contact["id"], company["id"])
    s = singer_io(sandbox)
    params = {"display_as": "plaintext", "per_page": 60}
    record = ok(s.get(f"{sandbox.base_url}/contacts/{contact['id']}"))
    assert record["tags"]["has_more"] and record["companies"]["has_more"]
    tags = ok(s.get("{}/{}".format(sandbox.base_url, record["tags"]["url"]), params=params))
    assert len(tags["data"]) == 12
    first = ok(s.get("{}/{}".format(sandbox.base_url, record["companies"]["url"]), params=params))
    assert len(first["companies"]) == 60 and first["total_count"] == 61
    assert first["pages"]["next"].startswith(
        f"{sandbox.base_url}/contacts/{contact['id']}/companies?"
    )
    rest = ok(s.get(first["pages"]["next"], params=params))
    assert len(rest["companies"]) == 1 and rest["pages"]["next"] is None
    got = {c["id"] for c in first["companies"] + rest["companies"]}
    assert len(got) == 61


# -- activity logs (A2) --------------------------------------------------------------------
@pytest.mark.no_spec_check  # pages.next is a URL: checked against the rest of the schema below
def test_a2_airbyte_activity_logs_window_next_url_as_path(sandbox):
    """Airbyte: GET /admins/activity_logs?created_at_after=S&created_at_before=E (30-day
    slices, unix seconds, no per_page: 20 a page), then ``pages.next`` used as the request
    path as it stands (RequestPath), the two window parameters added again. Every entry of
    the window once, newest first."""
    ws = sandbox.backend.workspace
    s_ts, e_ts = D0, D0 + 30 * DAY
    with sandbox.backend.lock:
        for i in range(45):
            ws.log_activity(
                ws.owner, "admin_login_success", "logged in", {}, created_at=s_ts + 1000 * i
            )
        ws.log_activity(ws.owner, "admin_login_success", "too old", {}, created_at=s_ts - 1)
        ws.log_activity(ws.owner, "admin_login_success", "too new", {}, created_at=e_ts + 1)
    session = airbyte(sandbox)
    window = {"created_at_after": str(s_ts), "created_at_before": str(e_ts)}
    url = f"{sandbox.base_url}/admins/activity_logs"
    got: list[int] = []
    sizes = []
    while url:
        page = ok(session.get(url, params=window))
        assert page["type"] == "activity_log.list"
        assert spec_errors_but_next_link("listActivityLogs", page) == []
        sizes.append(len(page["activity_logs"]))
        got.extend(e["created_at"] for e in page["activity_logs"])
        url = page["pages"]["next"]
    assert sizes == [20, 20, 5]
    assert got == sorted((s_ts + 1000 * i for i in range(45)), reverse=True)


# -- articles (T7, T8, T9) -----------------------------------------------------------------
def _articles(sandbox: RunningSandbox, n: int) -> list[str]:
    ws = sandbox.backend.workspace
    ids = []
    with sandbox.backend.lock:
        for i in range(n):
            sandbox.backend.clock.set(D0 + i, frozen=True)
            state = "draft" if i % 10 == 0 else "published"
            ids.append(
                ws.create_article(
                    title=f"Guide {i}", body="<p>How to.</p>", author_id=ws.owner["id"], state=state
                )["id"]
            )
    return ids


def _hateoas_walk(session: requests.Session, url: str, list_of) -> tuple[list[str], int]:
    """TicketSwap's IntercomHATEOASPaginator: per_page=150, then the next page's query
    parameters parsed from ``pages.next`` (a URL) and sent with per_page=150."""
    params: dict[str, Any] = {"per_page": 150}
    ids: list[str] = []
    pages = 0
    while True:
        page = ok(session.get(url, params=params))
        pages += 1
        ids.extend(a["id"] for a in list_of(page))
        nxt = page["pages"].get("next")
        if nxt is None:
            return ids, pages
        params = {"per_page": 150, **dict(parse_qsl(urlsplit(nxt).query))}


@pytest.mark.no_spec_check  # pages.next is a URL: checked against the rest of the schema below
def test_t7_ticketswap_articles_next_url(sandbox):
    """TicketSwap (latest): GET /articles?per_page=150, following ``pages.next`` as a URL
    (HATEOAS): every article once, newest update first."""
    made = _articles(sandbox, 160)
    session = ticketswap(sandbox)
    first = ok(session.get(f"{sandbox.base_url}/articles", params={"per_page": 150}))
    assert first["pages"]["next"] == f"{sandbox.base_url}/articles?per_page=150&page=2"
    assert spec_errors_but_next_link("listArticles", first) == []
    ids, pages = _hateoas_walk(session, f"{sandbox.base_url}/articles", lambda p: p["data"])
    assert pages == 2 and ids == list(reversed(made))


def test_t8_ticketswap_one_article_with_per_page(sandbox):
    """TicketSwap articles_extended: GET /articles/{id}?per_page=150 (ignored)."""
    (article_id,) = _articles(sandbox, 1)
    body = ok(
        ticketswap(sandbox).get(
            f"{sandbox.base_url}/articles/{article_id}", params={"per_page": 150}
        )
    )
    assert body["id"] == article_id and body["statistics"]["type"] == "article_statistics"


@pytest.mark.no_spec_check  # pages.next is a URL: checked against the rest of the schema below
def test_t9_ticketswap_article_search_without_phrase(sandbox):
    """TicketSwap (earlier): GET /articles/search?per_page=150, no phrase, next page from
    ``pages.next`` (a URL): every article (drafts too: state defaults to all) under
    ``data.articles``. Intercom's answer to a phrase-less search is NOT VERIFIED."""
    made = _articles(sandbox, 160)
    session = ticketswap(sandbox, "2.11")
    first = ok(session.get(f"{sandbox.base_url}/articles/search", params={"per_page": 150}))
    assert first["type"] == "list" and first["total_count"] == 160
    assert spec_errors_but_next_link("searchArticles", first) == []
    ids, pages = _hateoas_walk(
        session, f"{sandbox.base_url}/articles/search", lambda p: p["data"]["articles"]
    )
    assert pages == 2 and sorted(ids) == sorted(made) and len(set(ids)) == 160
    drafts = ok(
        session.get(
            f"{sandbox.base_url}/articles/search", params={"state": "draft", "phrase": "guide 1"}
        )
    )
    assert {a["title"] for a in drafts["data"]["articles"]} == {
        "Guide 10",
        "Guide 100",
        "Guide 110",
        "Guide 120",
        "Guide 130",
        "Guide 140",
        "Guide 150",
    }


# -- lists walked by older code (historical rows) ------------------------------------------
def test_hist_airbyte_python_contacts_list_cursor_in_query(sandbox):
    """Airbyte's older Python source: GET /contacts, then ?starting_after=<pages.next
    .starting_after> (default 50 a page): every contact once, in creation order."""
    ids = contacts_at(sandbox, [D0 + i for i in range(60)])
    s = airbyte(sandbox, "2.9")
    first = ok(s.get(f"{sandbox.base_url}/contacts"))
    rest = ok(
        s.get(
            f"{sandbox.base_url}/contacts",
            params={"starting_after": first["pages"]["next"]["starting_after"]},
        )
    )
    assert [c["id"] for c in first["data"] + rest["data"]] == ids


def test_hist_unverified_conversations_list_order_desc(sandbox):
    """GET /conversations?order=desc&sort=updated_at (2.0-era docs; NOT FOUND in the stored
    code of the three taps): the parameters are not in the 2.x spec and are ignored; the
    list is newest update first anyway."""
    ids = conversations_at(sandbox, [D0, D0 + 10, D0 + 5])
    body = ok(
        airbyte(sandbox).get(
            f"{sandbox.base_url}/conversations", params={"order": "desc", "sort": "updated_at"}
        )
    )
    assert [c["id"] for c in body["conversations"]] == [ids[1], ids[2], ids[0]]
