"""The search engine over HTTP: day-granular contact dates, search lag, cursor walks,
errors, merged and archived contacts (every response checked against the spec)."""

from __future__ import annotations

import calendar
from typing import Any

import pytest

DAY = 86_400
D0 = calendar.timegm((2024, 3, 5, 0, 0, 0))


def q(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


def _search(api: Any, query: dict[str, Any], **body: Any) -> dict[str, Any]:
    r = api.post(f"{api.base}/contacts/search", json={"query": query, **body})
    assert r.status_code == 200, r.text
    return r.json()


def _set_clock(api: Any, ts: float) -> None:
    r = api.post(f"{api.base}/_sandbox/clock", json={"set": ts, "frozen": True})
    assert r.status_code == 200


def test_http_updated_at_is_day_granular(api: Any) -> None:
    x = D0 + 9 * 3600
    _set_clock(api, x)
    same_day = api.post(f"{api.base}/contacts", json={"email": "same@example.com"}).json()
    _set_clock(api, x + 6 * 3600)  # 15:00 the same day: an update later than X
    r = api.put(f"{api.base}/contacts/{same_day['id']}", json={"name": "Later"})
    assert r.json()["updated_at"] == x + 6 * 3600
    _set_clock(api, D0 + DAY + 60)
    next_day = api.post(f"{api.base}/contacts", json={"email": "next@example.com"}).json()

    after = _search(api, q("updated_at", ">", x))
    assert [c["id"] for c in after["data"]] == [next_day["id"]]
    on_day = _search(api, q("updated_at", "=", x))
    assert [c["id"] for c in on_day["data"]] == [same_day["id"]]
    # The tap's OR-pair catches both (FACTS.md §10).
    both = _search(
        api, {"operator": "OR", "value": [q("updated_at", ">", x), q("updated_at", "=", x)]}
    )
    assert both["total_count"] == 2


def test_http_search_lag(api: Any) -> None:
    _set_clock(api, D0)
    r = api.post(f"{api.base}/_sandbox/config", json={"search_lag_seconds": 120})
    assert r.json()["search_lag_seconds"] == 120
    created = api.post(
        f"{api.base}/contacts", json={"email": "lag@example.com", "name": "V1"}
    ).json()
    by_email = q("email", "=", "lag@example.com")
    assert _search(api, by_email)["total_count"] == 0  # not indexed yet
    assert api.get(f"{api.base}/contacts/{created['id']}").status_code == 200  # GET sees it
    api.post(f"{api.base}/_sandbox/clock", json={"advance": 121})
    found = _search(api, by_email)
    assert [c["name"] for c in found["data"]] == ["V1"]

    api.put(f"{api.base}/contacts/{created['id']}", json={"name": "V2"})
    assert api.get(f"{api.base}/contacts/{created['id']}").json()["name"] == "V2"
    assert [c["name"] for c in _search(api, by_email)["data"]] == ["V1"]  # previous version
    api.post(f"{api.base}/_sandbox/clock", json={"advance": 121})
    assert [c["name"] for c in _search(api, by_email)["data"]] == ["V2"]

    api.post(f"{api.base}/contacts/{created['id']}/archive")
    assert _search(api, by_email)["total_count"] == 0  # removal is immediate


def _make_contacts(api: Any, n: int, *, role: str = "user", first: int = 0) -> list[str]:
    out = []
    for i in range(first, first + n):
        body = {"role": role, "email": f"{role}{i}@example.com", "name": f"{role} {i}"}
        r = api.post(f"{api.base}/contacts", json=body)
        assert r.status_code == 200, r.text
        out.append(r.json()["id"])
    return out


def test_http_search_cursor_walk_visits_each_contact_once(api: Any) -> None:
    _set_clock(api, D0)
    users = _make_contacts(api, 23)
    _make_contacts(api, 4, role="lead")
    body = {
        "query": {"operator": "AND", "value": [q("role", "=", "user"), q("updated_at", ">", 0)]},
        "sort": {"field": "updated_at", "order": "ascending"},
        "pagination": {"per_page": 5},
    }
    seen: list[str] = []
    cursor = None
    page_numbers = []
    while True:
        page_body = {**body, "pagination": {"per_page": 5, "starting_after": cursor}}
        data = api.post(f"{api.base}/contacts/search", json=page_body).json()
        assert data["type"] == "list" and data["total_count"] == len(users)
        page_numbers.append(data["pages"]["page"])
        seen.extend(c["id"] for c in data["data"])
        if "next" not in data["pages"]:
            break
        cursor = data["pages"]["next"]["starting_after"]
        if len(seen) == 10:  # writes mid-walk: a later user is served once, at the end
            _set_clock(api, D0 + 3600)
            users.append(_make_contacts(api, 1, role="user", first=100)[0])
            _make_contacts(api, 1, role="lead", first=100)
    assert sorted(seen) == sorted(users) and len(seen) == 24
    assert seen[-1] == users[-1]
    assert page_numbers == [1, 2, 3, 4, 5]


def test_http_starting_after_in_query_string_is_ignored(api: Any) -> None:
    _make_contacts(api, 4)
    body = {"query": q("role", "=", "user"), "pagination": {"per_page": 2}}
    first = api.post(f"{api.base}/contacts/search", json=body).json()
    cursor = first["pages"]["next"]["starting_after"]
    again = api.post(
        f"{api.base}/contacts/search", params={"starting_after": cursor}, json=body
    ).json()
    assert [c["id"] for c in again["data"]] == [c["id"] for c in first["data"]]
    assert again["pages"]["page"] == 1


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (
            {"query": q("role", "=", "user"), "sort": {"field": "updated_at", "order": "desc"}},
            "invalid_sort_order",
            "Invalid sort order 'desc'. Must be one of: ascending, descending",
        ),
        (
            {"query": q("role", "=", "user"), "pagination": {"per_page": 151}},
            "parameter_invalid",
            "per_page must be between 1 and 150",
        ),
        (
            {"query": q("updated_at", ">=", 1)},
            "parameter_invalid",
            "updated_at",
        ),
        ({"query": q("favourite_colour", "=", "red")}, "parameter_invalid", "favourite_colour"),
    ],
)
def test_http_search_errors(api: Any, body: dict[str, Any], code: str, message: str) -> None:
    r = api.post(f"{api.base}/contacts/search", json=body)
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["code"] == code and message in err["message"]


def test_http_search_excludes_merged_and_archived(api: Any) -> None:
    lead = api.post(f"{api.base}/contacts", json={"role": "lead", "email": "m@example.com"}).json()
    user = api.post(f"{api.base}/contacts", json={"email": "m@example.com"}).json()
    other = api.post(f"{api.base}/contacts", json={"email": "o@example.com"}).json()
    by_domain = q("email_domain", "=", "example.com")
    assert _search(api, by_domain)["total_count"] == 3
    r = api.post(f"{api.base}/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert r.status_code == 200
    api.post(f"{api.base}/contacts/{other['id']}/archive")
    assert [c["id"] for c in _search(api, by_domain)["data"]] == [user["id"]]
    api.post(f"{api.base}/contacts/{other['id']}/unarchive")
    assert _search(api, by_domain)["total_count"] == 2
