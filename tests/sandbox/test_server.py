"""Cross-cutting HTTP rules of the sandbox (FACTS.md §1, §5, §6) and its control API.

Auth (401 without rate headers), Intercom-Version, 429 in 10-second windows, each fault kind,
and /_sandbox/ reset, clock, stats and config.
"""

from __future__ import annotations

import calendar
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
T0 = calendar.timegm((2024, 3, 5, 9, 0, 0))


def control(api: requests.Session, method: str, path: str, body: Any = None) -> dict[str, Any]:
    r = requests.request(method, f"{api.base}/_sandbox/{path}", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def new_contact(api: requests.Session, email: str) -> dict[str, Any]:
    r = api.post(f"{api.base}/contacts", json={"email": email})
    assert r.status_code == 200, r.text
    return r.json()


# -- auth and version -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong-token"}, {"Authorization": "sandbox-token"}],
)
def test_bad_or_missing_token_is_401_without_rate_headers(
    api: requests.Session, headers: dict[str, str]
) -> None:
    r = requests.get(f"{api.base}/contacts", headers=headers, timeout=10)
    assert r.status_code == 401
    body = r.json()
    assert body["type"] == "error.list"
    assert body["errors"][0] == {"code": "unauthorized", "message": "Access Token Invalid"}
    assert not any(h in r.headers for h in RATE_HEADERS)
    ok = api.get(f"{api.base}/contacts")
    assert ok.status_code == 200 and all(h in ok.headers for h in RATE_HEADERS)


def test_token_never_echoed(api: requests.Session) -> None:
    r = requests.get(
        f"{api.base}/contacts", headers={"Authorization": "Bearer s3cr3t-value"}, timeout=10
    )
    assert r.status_code == 401 and "s3cr3t-value" not in r.text


@pytest.mark.parametrize("version", [None, "2.16", "2.11", "1.4"])
def test_known_or_absent_version_is_accepted(api: requests.Session, version: str | None) -> None:
    headers = {"Intercom-Version": version} if version else {}
    s = requests.Session()
    s.headers.update({k: v for k, v in api.headers.items() if k != "Intercom-Version"})
    r = s.get(f"{api.base}/contacts", headers=headers, timeout=10)
    assert r.status_code == 200


@pytest.mark.parametrize("version", ["9.9", "2.99", "latest"])
def test_unknown_version_is_400(api: requests.Session, version: str) -> None:
    r = api.get(f"{api.base}/contacts", headers={"Intercom-Version": version})
    assert r.status_code == 400
    assert r.json()["errors"][0]["code"] == "intercom_version_invalid"


def test_unknown_path_is_404(api: requests.Session) -> None:
    r = api.get(f"{api.base}/no/such/thing")
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == "not_found"


# -- rate limit -------------------------------------------------------------------------------


def test_429_in_ten_second_windows(api: requests.Session) -> None:
    cfg = control(api, "POST", "config", {"rate_limit_per_minute": 60})
    assert cfg["rate_limit_per_window"] == 10  # 60/min spread over six 10-second windows
    remaining: list[int] = []
    limited = None
    for _ in range(25):  # at most one window boundary can fall inside these calls
        r = api.get(f"{api.base}/contacts")
        if r.status_code == 429:
            limited = r
            break
        remaining.append(int(r.headers["X-RateLimit-Remaining"]))
        assert r.headers["X-RateLimit-Limit"] == "10"
    assert limited is not None, "no 429 after 25 calls at 10 per window"
    assert limited.headers["X-RateLimit-Limit"] == "10"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    reset = int(limited.headers["X-RateLimit-Reset"])
    assert reset % 10 == 0  # windows are aligned on 10 seconds
    err = limited.json()["errors"][0]
    assert err == {
        "code": "rate_limit_exceeded",
        "message": "Exceeded rate limit of 10 in 10_seconds",
    }
    # Within a window Remaining counts down by one per call.
    tail = remaining[-3:]
    assert tail == sorted(tail, reverse=True) and tail[-1] == 0


# -- faults -----------------------------------------------------------------------------------


def set_fault(api: requests.Session, kind: str, operation: str) -> None:
    body = {"clear": True, "rates": {kind: 1.0}, "operations": [operation]}
    cfg = control(api, "POST", "faults", body)
    assert cfg["rates"][kind] == 1.0


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [("500", 500, "server_error"), ("503", 503, "service_unavailable"), ("429", 429, None)],
)
def test_faults_before_processing_write_nothing(
    api: requests.Session, kind: str, status: int, code: str | None
) -> None:
    set_fault(api, kind, "CreateContact")
    r = api.post(f"{api.base}/contacts", json={"email": "f@example.com"})
    assert r.status_code == status
    if code:
        assert r.json()["errors"][0]["code"] == code
    if kind == "429":
        assert all(h in r.headers for h in RATE_HEADERS)
    assert api.get(f"{api.base}/contacts").json()["total_count"] == 0  # nothing written
    assert control(api, "GET", "stats")["faults_injected"][kind] == 1
    control(api, "POST", "faults", {"clear": True})
    assert api.post(f"{api.base}/contacts", json={"email": "f@example.com"}).status_code == 200


@pytest.mark.parametrize("kind", ["502", "drop", "truncate"])
def test_faults_after_processing_lose_the_answer_not_the_write(
    api: requests.Session, kind: str
) -> None:
    set_fault(api, kind, "CreateContact")
    if kind == "502":
        r = api.post(f"{api.base}/contacts", json={"email": "w@example.com"})
        assert r.status_code == 502
    else:
        with pytest.raises(requests.exceptions.RequestException):
            r = api.post(f"{api.base}/contacts", json={"email": "w@example.com"})
            r.json()  # a truncated body may only fail here
    listed = requests.get(f"{api.base}/contacts", headers=dict(api.headers), timeout=10).json()
    assert [c["email"] for c in listed["data"]] == ["w@example.com"]  # the write happened
    # Other operations are untouched by a fault scoped to CreateContact.
    assert requests.get(f"{api.base}/contacts", headers=dict(api.headers), timeout=10).ok


# -- control API ------------------------------------------------------------------------------


def test_reset_empties_the_stores_and_stats(api: requests.Session) -> None:
    new_contact(api, "a@example.com")
    assert control(api, "GET", "stats")["total"] == 1
    control(api, "POST", "reset")
    assert control(api, "GET", "stats")["total"] == 0
    assert api.get(f"{api.base}/contacts").json()["total_count"] == 0
    new_contact(api, "a@example.com")  # no 409: the old user is gone


def test_clock_set_and_advance_drive_timestamps(api: requests.Session) -> None:
    clock = control(api, "POST", "clock", {"set": T0, "frozen": True})
    assert clock == {"now": T0, "frozen": True}
    c = new_contact(api, "t@example.com")
    assert c["created_at"] == c["updated_at"] == T0
    assert control(api, "POST", "clock", {"advance": 90})["now"] == T0 + 90
    r = api.put(f"{api.base}/contacts/{c['id']}", json={"name": "Later"})
    assert r.json()["updated_at"] == T0 + 90 and r.json()["created_at"] == T0
    # The Date header follows the sandbox clock, so clients can read server time.
    assert parsedate_to_datetime(r.headers["Date"]).timestamp() == T0 + 90
    err = requests.post(f"{api.base}/_sandbox/clock", json={"advance": "soon"}, timeout=10)
    assert err.status_code == 400


def test_stats_count_by_operation_and_status(api: requests.Session) -> None:
    c = new_contact(api, "s@example.com")
    for _ in range(3):
        api.get(f"{api.base}/contacts/{c['id']}")
    api.get(f"{api.base}/contacts/000000000000000000000000")
    api.post(f"{api.base}/contacts", json={"email": "s@example.com"})  # 409
    ops = control(api, "GET", "stats")["operations"]
    assert ops["ShowContact"] == {"200": 3, "404": 1}
    assert ops["CreateContact"] == {"200": 1, "409": 1}
    control(api, "DELETE", "stats")
    snap = control(api, "GET", "stats")
    assert snap["total"] == 0 and snap["operations"] == {}


def test_config_search_lag(api: requests.Session) -> None:
    assert control(api, "GET", "config")["search_lag_seconds"] == 0
    assert control(api, "POST", "config", {"search_lag_seconds": 30})["search_lag_seconds"] == 30
    control(api, "POST", "clock", {"set": T0, "frozen": True})
    new_contact(api, "lagged@example.com")
    body = {"query": {"field": "email", "operator": "=", "value": "lagged@example.com"}}
    assert api.post(f"{api.base}/contacts/search", json=body).json()["total_count"] == 0
    control(api, "POST", "clock", {"advance": 30})
    assert api.post(f"{api.base}/contacts/search", json=body).json()["total_count"] == 1
    bad = requests.post(f"{api.base}/_sandbox/config", json={"search_lag_seconds": -1}, timeout=10)
    assert bad.status_code == 400
    bad = requests.post(f"{api.base}/_sandbox/config", json={"nonsense": 1}, timeout=10)
    assert bad.status_code == 400 and "nonsense" in bad.text
