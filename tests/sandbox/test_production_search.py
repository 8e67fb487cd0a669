"""Search request shapes of the widely used open-source Intercom taps (contacts,
conversations, tickets), each sent exactly so to the sandbox: rows S7, S8, A6, A7, A8, T3,
T4, T5, T10 of intercom_sandbox/README.md, "What real clients send" (the rest:
test_production_shapes.py)."""

from __future__ import annotations

from typing import Any

from production_clients import (
    D0,
    DAY,
    airbyte,
    contacts_at,
    conversations_at,
    ok,
    q,
    singer_io,
    tickets_at,
    ticketswap,
    walk_search,
)


# -- contact search ------------------------------------------------------------------------
def test_s7_singer_contacts_float_bookmark_or_pair_sorted_ascending(sandbox):
    """singer-io contacts: {pagination: {per_page: 150}, query: updated_at > F OR
    updated_at = F, sort: updated_at ascending}, F a float (datetime.timestamp()), cursor
    in the body. Day-granular on stable versions: everything from F's day (UTC), ascending."""
    f = float(D0 + 9 * 3600 + 30 * 60)  # 2024-03-05T09:30:00Z as singer-io sends it
    before = contacts_at(sandbox, [D0 - 1], prefix="before")
    # 170 contacts from 01:00 on F's day: more than one page of 150.
    times = [D0 + 3600 + 997 * i for i in range(170)]
    wanted = contacts_at(sandbox, times, prefix="in")
    body = {
        "query": {"operator": "OR", "value": [q("updated_at", ">", f), q("updated_at", "=", f)]},
        "sort": {"field": "updated_at", "order": "ascending"},
    }
    pages = list(
        walk_search(
            singer_io(sandbox), f"{sandbox.base_url}/contacts/search", body, "data", per_page=150
        )
    )
    got = [c for p in pages for c in p["data"]]
    assert [len(p["data"]) for p in pages] == [150, 20]
    assert [c["id"] for c in got] == wanted and before[0] not in {c["id"] for c in got}
    assert [c["updated_at"] for c in got] == sorted(times)


def test_a6_airbyte_contacts_window_and_or_pair(sandbox):
    """Airbyte contacts: query AND[OR[updated_at > S, updated_at = S], updated_at < E], sort
    updated_at ascending, pagination {per_page: 150[, starting_after]}; S, E integers (slice
    bounds, E = now on the last slice). By calendar day: from S's day to before E's day."""
    s_ts, e_ts = D0 + 9 * 3600, D0 + 3 * DAY + 5 * 3600
    times = [D0 - 60, D0 + 3600, D0 + DAY, D0 + 3 * DAY - 1, D0 + 3 * DAY + 3600]
    ids = contacts_at(sandbox, times)
    body = _window_body(s_ts, e_ts)
    pages = list(
        walk_search(
            airbyte(sandbox), f"{sandbox.base_url}/contacts/search", body, "data", per_page=150
        )
    )
    assert [c["id"] for p in pages for c in p["data"]] == ids[1:4]


def test_t3_ticketswap_contacts_no_sort_page_one_default_then_150(sandbox):
    """TicketSwap (latest): {query: AND[updated_at > X, updated_at < signpost + 1]}, no sort,
    no pagination on page 1 (Intercom's default: 50), then {per_page: 150, starting_after}.
    Every match exactly once; the day rule makes X's and the signpost's days count as whole
    days (X's day excluded by >, the signpost's day excluded by <)."""
    x = D0 + 12 * 3600
    signpost = D0 + 5 * DAY + 3600
    inside = contacts_at(sandbox, [D0 + DAY + 60 * i for i in range(70)], prefix="in")
    contacts_at(sandbox, [D0 + 13 * 3600, D0 + 5 * DAY + 60], prefix="out")
    s = ticketswap(sandbox)
    url = f"{sandbox.base_url}/contacts/search"
    query = {
        "operator": "AND",
        "value": [q("updated_at", ">", x), q("updated_at", "<", signpost + 1)],
    }
    first = ok(s.post(url, json={"query": query}))
    assert len(first["data"]) == 50 and first["pages"]["per_page"] == 50
    second = ok(
        s.post(
            url,
            json={
                "query": query,
                "pagination": {
                    "per_page": 150,
                    "starting_after": first["pages"]["next"]["starting_after"],
                },
            },
        )
    )
    assert "next" not in second["pages"] and second["pages"]["page"] == 2
    got = [c["id"] for c in first["data"] + second["data"]]
    assert sorted(got) == sorted(inside) and len(got) == len(set(got)) == 70


def test_t5_ticketswap_older_sort_and_single_filter_group(sandbox):
    """TicketSwap (2.11 era): {sort: {field: updated_at, order: ascending}, query: {AND:
    [updated_at > X]}} (a one-filter group), pagination only from page 2."""
    ids = contacts_at(sandbox, [D0 + 2 * DAY, D0 + DAY, D0 - DAY])
    body = {
        "sort": {"field": "updated_at", "order": "ascending"},
        "query": {"operator": "AND", "value": [q("updated_at", ">", D0)]},
    }
    got = ok(ticketswap(sandbox, "2.11").post(f"{sandbox.base_url}/contacts/search", json=body))
    assert [c["id"] for c in got["data"]] == [ids[1], ids[0]]


def test_t10_search_body_without_query_is_not_verified(sandbox):
    """TicketSwap's 2.11-era code sent {sort} alone when it had no start value and no
    filters. Intercom's answer is unknown (the spec requires ``query``): the sandbox keeps
    the spec's 400 parameter_not_found. NOT VERIFIED against Intercom."""
    r = ticketswap(sandbox, "2.11").post(
        f"{sandbox.base_url}/contacts/search",
        json={"sort": {"field": "updated_at", "order": "ascending"}},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "parameter_not_found"


# -- conversation and ticket search ---------------------------------------------------------
def test_s8_singer_conversations_fractional_bookmark_sorted_by_id(sandbox):
    """singer-io conversations: {pagination: {per_page: 150}, query: updated_at > F OR
    updated_at = F, sort: {field: id, order: ascending}}, F = last sync start as a float
    with microseconds. Conversation dates are second-precise and ``>`` is "greater or
    equal" (FACTS.md §3): updated_at >= F, i.e. from the next whole second."""
    base = D0 + 7200
    f = base + 0.123456
    # Created newest first, so id order is not time order.
    later, at_ceiling, at_floor, earlier = conversations_at(
        sandbox, [base + 500, base + 1, base, base - 1]
    )
    body = {
        "query": {"operator": "OR", "value": [q("updated_at", ">", f), q("updated_at", "=", f)]},
        "sort": {"field": "id", "order": "ascending"},
    }
    pages = list(
        walk_search(
            singer_io(sandbox),
            f"{sandbox.base_url}/conversations/search",
            body,
            "conversations",
            per_page=150,
        )
    )
    got = [c["id"] for p in pages for c in p["conversations"]]
    assert got == sorted([later, at_ceiling], key=int)
    assert at_floor not in got and earlier not in got


def test_s8_singer_conversations_walk_150_a_page(sandbox):
    """The same shape over more than one page: every conversation exactly once, by id."""
    ids = conversations_at(sandbox, [D0 + 10 * i for i in range(160)])
    body = {
        "query": {
            "operator": "OR",
            "value": [q("updated_at", ">", float(D0)), q("updated_at", "=", float(D0))],
        },
        "sort": {"field": "id", "order": "ascending"},
    }
    pages = list(
        walk_search(
            singer_io(sandbox),
            f"{sandbox.base_url}/conversations/search",
            body,
            "conversations",
            per_page=150,
        )
    )
    assert [len(p["conversations"]) for p in pages] == [150, 10]
    assert [c["id"] for p in pages for c in p["conversations"]] == sorted(ids, key=int)


def _window_body(s_ts: int, e_ts: int) -> dict[str, Any]:
    return {
        "query": {
            "operator": "AND",
            "value": [
                {
                    "operator": "OR",
                    "value": [q("updated_at", ">", s_ts), q("updated_at", "=", s_ts)],
                },
                q("updated_at", "<", e_ts),
            ],
        },
        "sort": {"field": "updated_at", "order": "ascending"},
    }


def test_a7_airbyte_conversations_window(sandbox):
    """Airbyte conversations: the contacts body on /conversations/search. Second-precise,
    ``>``/``<`` documented as "or equal" (FACTS.md §3): S <= updated_at <= E, ascending."""
    s_ts, e_ts = D0 + 3600, D0 + 7200
    ids = conversations_at(sandbox, [e_ts + 1, e_ts, s_ts + 60, s_ts, s_ts - 1])
    pages = list(
        walk_search(
            airbyte(sandbox),
            f"{sandbox.base_url}/conversations/search",
            _window_body(s_ts, e_ts),
            "conversations",
            per_page=150,
        )
    )
    assert [c["id"] for p in pages for c in p["conversations"]] == [ids[3], ids[2], ids[1]]


def test_a8_airbyte_tickets_window(sandbox):
    """Airbyte tickets: the same body on /tickets/search (second-precise, inclusive)."""
    s_ts, e_ts = D0 + 3600, D0 + 7200
    ids = tickets_at(sandbox, [s_ts - 1, s_ts, e_ts, e_ts + 1])
    pages = list(
        walk_search(
            airbyte(sandbox),
            f"{sandbox.base_url}/tickets/search",
            _window_body(s_ts, e_ts),
            "tickets",
            per_page=150,
        )
    )
    assert [t["id"] for p in pages for t in p["tickets"]] == ids[1:3]


def test_t4_ticketswap_conversations_page_one_default_20(sandbox):
    """TicketSwap on /conversations/search: page 1 without pagination (default 20), then
    {per_page: 150, starting_after}: every match once."""
    ids = conversations_at(sandbox, [D0 + i for i in range(30)])
    s = ticketswap(sandbox)
    url = f"{sandbox.base_url}/conversations/search"
    query = {
        "operator": "AND",
        "value": [q("updated_at", ">", D0 - 10), q("updated_at", "<", D0 + 100)],
    }
    first = ok(s.post(url, json={"query": query}))
    assert len(first["conversations"]) == 20
    cursor = first["pages"]["next"]["starting_after"]
    rest = ok(
        s.post(
            url, json={"query": query, "pagination": {"per_page": 150, "starting_after": cursor}}
        )
    )
    got = [c["id"] for c in first["conversations"] + rest["conversations"]]
    assert sorted(got) == sorted(ids) and len(set(got)) == 30


def test_hist_airbyte_python_conversations_cursor_only_pagination(sandbox):
    """Airbyte's older Python source: {query: AND[updated_at > s, updated_at < e], sort:
    updated_at ascending, pagination: {starting_after}} — no per_page (default 20)."""
    ids = conversations_at(sandbox, [D0 + i for i in range(25)])
    url = f"{sandbox.base_url}/conversations/search"
    body = {
        "query": {
            "operator": "AND",
            "value": [q("updated_at", ">", D0 - 1), q("updated_at", "<", D0 + 99)],
        },
        "sort": {"field": "updated_at", "order": "ascending"},
    }
    s = airbyte(sandbox, "2.9")
    first = ok(s.post(url, json=body))
    second = ok(
        s.post(
            url,
            json={
                **body,
                "pagination": {"starting_after": first["pages"]["next"]["starting_after"]},
            },
        )
    )
    assert [c["id"] for c in first["conversations"] + second["conversations"]] == ids
