"""Companies in the sandbox: upsert by company_id, lookups, list, scroll (FACTS.md §4)."""

from __future__ import annotations

from typing import Any

import requests

from intercom_sandbox.models import companies as companies_model
from intercom_sandbox.server import RunningSandbox


def _user(api: requests.Session, n: int) -> dict[str, Any]:
    r = api.post(f"{api.base}/contacts", json={"role": "user", "email": f"u{n}@example.com"})
    assert r.status_code == 200, r.text
    return r.json()


def _company(api: requests.Session, company_id: str, **fields: Any) -> dict[str, Any]:
    r = api.post(f"{api.base}/companies", json={"company_id": company_id, **fields})
    assert r.status_code == 200, r.text
    return r.json()


def _attach(api: requests.Session, contact: dict[str, Any], company: dict[str, Any]) -> None:
    r = api.post(f"{api.base}/contacts/{contact['id']}/companies", json={"id": company["id"]})
    assert r.status_code == 200, r.text


def _error(r: requests.Response) -> tuple[int, str]:
    return r.status_code, r.json()["errors"][0]["code"]


def _many_companies_with_users(sandbox: RunningSandbox, n: int) -> list[str]:
    backend = sandbox.backend
    ids = []
    with backend.lock:
        for i in range(n):
            company = backend.companies.create_or_update({"company_id": f"c{i}", "name": f"C{i}"})
            contact = backend.contacts.create({"role": "user", "email": f"m{i}@example.com"})
            backend.contacts.attach_company(contact["id"], company["id"])
            ids.append(company["id"])
    return ids


def test_post_upserts_by_company_id(api, sandbox):
    first = _company(api, "acme", name="Acme", plan="pro", monthly_spend=155.98, size=12)
    assert first["type"] == "company" and first["company_id"] == "acme"
    assert first["monthly_spend"] == 155  # floats are truncated [S16:28567]
    assert first["plan"]["name"] == "pro" and first["plan"]["type"] == "plan"
    assert first["user_count"] == 0 and first["app_id"] == sandbox.backend.workspace_id
    sandbox.backend.clock.advance(5)
    second = _company(api, "acme", name="Acme Corp", update_last_request_at=True)
    assert second["id"] == first["id"]
    assert second["name"] == "Acme Corp" and second["size"] == 12  # untouched fields stay
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] == first["updated_at"] + 5
    assert second["last_request_at"] == second["updated_at"]
    other = _company(api, "globex", name="Globex")
    assert other["id"] != first["id"]


def test_post_validation(api):
    r = api.post(f"{api.base}/companies", json={"test": "invalid"})
    assert _error(r) == (400, "bad_request")
    assert r.json()["errors"][0]["message"] == "bad 'test' parameter"
    r = api.post(f"{api.base}/companies", json={"name": "No id"})
    assert r.status_code == 400
    r = api.post(f"{api.base}/companies", json={"company_id": "x", "monthly_spend": 2**31})
    assert _error(r) == (400, "parameter_invalid")
    r = api.post(f"{api.base}/companies", json={"company_id": "x", "size": "big"})
    assert _error(r) == (400, "parameter_invalid")


def test_custom_attributes_must_exist_and_match_type(api):
    body = {"company_id": "acme", "custom_attributes": {"tier": "gold"}}
    r = api.post(f"{api.base}/companies", json=body)
    assert _error(r) == (400, "parameter_invalid")
    assert "tier" in r.json()["errors"][0]["message"]
    r = api.post(
        f"{api.base}/data_attributes",
        json={"name": "tier", "model": "company", "data_type": "string"},
    )
    assert r.status_code == 200
    assert _company(api, "acme", custom_attributes={"tier": "gold"})["custom_attributes"] == {
        "tier": "gold"
    }
    r = api.post(f"{api.base}/companies", json={**body, "custom_attributes": {"tier": 3}})
    assert _error(r) == (400, "parameter_invalid")


def test_lookup_by_company_id_and_name(api):
    made = _company(api, "acme-1", name="Acme Ünïcode")
    r = api.get(f"{api.base}/companies", params={"company_id": "acme-1"})
    assert r.status_code == 200 and r.json()["id"] == made["id"]
    r = api.get(f"{api.base}/companies", params={"name": "Acme Ünïcode"})
    assert r.json()["id"] == made["id"]
    r = api.get(f"{api.base}/companies", params={"company_id": "nope"})
    assert _error(r) == (404, "company_not_found")


def test_get_put_delete_by_intercom_id(api):
    made = _company(api, "acme", name="Acme")
    r = api.get(f"{api.base}/companies/{made['id']}")
    assert r.status_code == 200 and r.json()["name"] == "Acme"
    r = api.put(f"{api.base}/companies/{made['id']}", json={"name": "Acme 2", "industry": "Retail"})
    assert r.status_code == 200
    assert r.json()["name"] == "Acme 2" and r.json()["industry"] == "Retail"
    # company_id can't be changed [S16:5978]
    r = api.put(f"{api.base}/companies/{made['id']}", json={"company_id": "other"})
    assert r.status_code == 400
    r = api.delete(f"{api.base}/companies/{made['id']}")
    assert r.json() == {"id": made["id"], "object": "company", "deleted": True}
    for method in ("get", "put", "delete"):
        r = api.request(method, f"{api.base}/companies/{made['id']}", json={})
        assert _error(r) == (404, "company_not_found")


def test_lists_omit_companies_without_users(api):
    lonely = _company(api, "lonely", name="Lonely")
    busy = _company(api, "busy", name="Busy")
    _attach(api, _user(api, 1), busy)
    listed = api.post(f"{api.base}/companies/list").json()
    assert [c["id"] for c in listed["data"]] == [busy["id"]]
    assert listed["total_count"] == 1 and listed["data"][0]["user_count"] == 1
    scrolled = api.get(f"{api.base}/companies/scroll").json()
    assert [c["id"] for c in scrolled["data"]] == [busy["id"]]
    plain = api.get(f"{api.base}/companies").json()
    assert [c["id"] for c in plain["data"]] == [busy["id"]]
    # ...but the lonely company is there by id.
    assert api.get(f"{api.base}/companies/{lonely['id']}").status_code == 200


def test_list_sorted_by_last_request_at_and_paged(api, sandbox):
    ids = _many_companies_with_users(sandbox, 5)
    for i, cid in enumerate(ids):
        sandbox.backend.clock.advance(10)
        r = api.put(f"{api.base}/companies/{cid}", json={"name": f"renamed {i}"})
        assert r.status_code == 200
        body = {"company_id": f"c{i}", "update_last_request_at": True}
        assert api.post(f"{api.base}/companies", json=body).status_code == 200
    first = api.post(f"{api.base}/companies/list", params={"per_page": 2}).json()
    assert [c["id"] for c in first["data"]] == [ids[4], ids[3]]
    assert first["pages"]["total_pages"] == 3 and first["pages"]["next"]["page"] == 2
    last = api.post(f"{api.base}/companies/list", params={"per_page": 2, "page": 3}).json()
    assert [c["id"] for c in last["data"]] == [ids[0]] and last["pages"]["next"] is None
    asc = api.post(f"{api.base}/companies/list", params={"order": "asc"}).json()
    assert [c["id"] for c in asc["data"]] == ids
    r = api.post(f"{api.base}/companies/list", params={"order": "sideways"})
    assert r.status_code == 400


def test_list_is_capped(api, sandbox, monkeypatch):
    monkeypatch.setattr(companies_model, "LIST_CAP", 3)
    _many_companies_with_users(sandbox, 5)
    walked = []
    for page in (1, 2, 3):
        r = api.post(f"{api.base}/companies/list", params={"per_page": 2, "page": page})
        walked += r.json()["data"]
    assert len(walked) == 3  # the cap: the rest is only reachable by scroll [S16:6739]
    assert r.json()["total_count"] == 5


def test_scroll_walk_one_open_scroll_and_end(api, sandbox):
    ids = _many_companies_with_users(sandbox, 150)
    first = api.get(f"{api.base}/companies/scroll").json()
    assert len(first["data"]) == 100 and first["scroll_param"]
    assert first["pages"] is None and first["total_count"] is None
    # One open scroll per app (FACTS.md §4).
    r = api.get(f"{api.base}/companies/scroll")
    assert _error(r) == (400, "scroll_exists")
    second = api.get(f"{api.base}/companies/scroll", params={"scroll_param": first["scroll_param"]})
    assert len(second.json()["data"]) == 50
    seen = [c["id"] for c in first["data"] + second.json()["data"]]
    assert sorted(seen) == sorted(ids)
    end = api.get(
        f"{api.base}/companies/scroll", params={"scroll_param": second.json()["scroll_param"]}
    )
    assert end.status_code == 200 and end.json()["data"] == []
    # After the end the param is dead and a new scroll may start.
    r = api.get(f"{api.base}/companies/scroll", params={"scroll_param": end.json()["scroll_param"]})
    assert r.status_code == 404
    assert api.get(f"{api.base}/companies/scroll").status_code == 200


def test_scroll_expires_after_a_minute_unused(api, sandbox):
    _many_companies_with_users(sandbox, 120)
    first = api.get(f"{api.base}/companies/scroll").json()
    sandbox.backend.clock.advance(61)
    r = api.get(f"{api.base}/companies/scroll", params={"scroll_param": first["scroll_param"]})
    assert r.status_code == 404
    fresh = api.get(f"{api.base}/companies/scroll")
    assert fresh.status_code == 200 and len(fresh.json()["data"]) == 100
    # An unknown param is a 404 too, and a stale one after a newer page was served.
    r = api.get(f"{api.base}/companies/scroll", params={"scroll_param": "not-a-scroll"})
    assert r.status_code == 404


def test_company_contacts_segments_and_tags(api):
    company = _company(api, "acme", name="Acme")
    users = [_user(api, i) for i in range(3)]
    for u in users[:2]:
        _attach(api, u, company)
    r = api.get(f"{api.base}/companies/{company['id']}/contacts")
    body = r.json()
    assert body["type"] == "list" and body["total_count"] == 2
    assert {c["id"] for c in body["data"]} == {users[0]["id"], users[1]["id"]}
    assert api.get(f"{api.base}/companies/{company['id']}").json()["user_count"] == 2
    r = api.get(f"{api.base}/companies/{company['id']}/segments")
    assert r.json() == {"type": "list", "data": []}
    r = api.get(f"{api.base}/companies/nope/contacts")
    assert _error(r) == (404, "company_not_found")

    tagged = api.post(
        f"{api.base}/tags", json={"name": "vip", "companies": [{"id": company["id"]}]}
    )
    assert tagged.status_code == 200
    assert tagged.json()["companies"] == [{"id": company["id"], "tagged": True}]
    tags = api.get(f"{api.base}/companies/{company['id']}").json()["tags"]["tags"]
    assert [t["name"] for t in tags] == ["vip"]
    listed = api.get(f"{api.base}/companies", params={"tag_id": tagged.json()["id"]}).json()
    assert [c["id"] for c in listed["data"]] == [company["id"]]
    body = {"name": "vip", "companies": [{"company_id": "acme", "untag": True}]}
    assert api.post(f"{api.base}/tags", json=body).json()["companies"][0]["tagged"] is False
    assert api.get(f"{api.base}/companies/{company['id']}").json()["tags"]["tags"] == []
    r = api.post(f"{api.base}/tags", json={"name": "vip", "companies": [{"company_id": "zzz"}]})
    assert _error(r) == (404, "company_not_found")
