"""The sandbox's rate-limit and token-echo faults (FACTS.md §5, §6).

``429`` is a 429 with budget left; ``late_reset`` a spent window whose X-RateLimit-Reset is
later than the window's end, refused until then; ``echo_token`` a retryable 500 quoting the
caller's Authorization header.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from intercom_sandbox.faults import SPREAD_KINDS, Faults

TOKEN = "sandbox-token"


def control(api: requests.Session, body: dict[str, Any]) -> dict[str, Any]:
    r = requests.post(f"{api.base}/_sandbox/faults", json=body, timeout=10)  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text
    return r.json()


def stats(api: requests.Session) -> dict[str, Any]:
    return requests.get(f"{api.base}/_sandbox/stats", timeout=10).json()  # type: ignore[attr-defined]


def test_429_fault_leaves_budget_in_the_window(api: requests.Session) -> None:
    control(api, {"clear": True, "rates": {"429": 1.0}, "operations": ["listTags"]})
    r = api.get(f"{api.base}/tags")  # type: ignore[attr-defined]
    assert r.status_code == 429
    assert r.json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert int(r.headers["X-RateLimit-Remaining"]) > 0  # the hit itself was allowed
    assert 0 < int(r.headers["X-RateLimit-Reset"]) - time.time() <= 10


@pytest.mark.parametrize("seed", range(8))
def test_late_reset_is_five_to_ten_seconds_after_the_window_end(seed: int) -> None:
    now = [1_700_000_003.5]
    faults = Faults(seed, time_fn=lambda: now[0])
    faults.configure({"rates": {"late_reset": 1.0}})
    kind, _ = faults.draw("listTags")
    assert kind == "late_reset"
    reset = faults.late_reset(kind)
    assert reset is not None and 1_700_000_010 + 5 <= reset <= 1_700_000_010 + 10
    faults.configure({"rates": {"late_reset": 0.0}})
    now[0] = 1_700_000_010.5  # past the window's end: still refused
    assert faults.late_reset(None) == reset
    now[0] = float(reset)
    assert faults.late_reset(None) is None


def test_late_reset_refuses_every_request_until_its_reset(
    api: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("intercom_sandbox.ratelimit.WINDOW_SECONDS", 1)  # 1 s windows
    control(api, {"clear": True, "rates": {"late_reset": 1.0}, "operations": ["listTags"]})
    window_end = int(time.time()) + 1  # the sandbox's window ends then (or a second later)
    r = api.get(f"{api.base}/tags")  # type: ignore[attr-defined]
    assert r.status_code == 429
    assert r.json()["errors"][0]["code"] == "rate_limit_exceeded"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    reset = int(r.headers["X-RateLimit-Reset"])
    assert reset > window_end  # later than the window's own end
    control(api, {"rates": {"late_reset": 0.0}})  # no new ones; the pending one stays
    time.sleep(max(0.0, window_end - time.time()) + 0.05)
    assert time.time() < reset
    # After our own window end, and on any operation: still refused, with the same Reset.
    for path in ("/tags", "/me"):
        again = api.get(f"{api.base}{path}")  # type: ignore[attr-defined]
        assert again.status_code == 429, path
        assert again.headers["X-RateLimit-Remaining"] == "0"
        assert again.headers["X-RateLimit-Reset"] == str(reset)
    time.sleep(max(0.0, reset - time.time()) + 0.05)
    ok = api.get(f"{api.base}/tags")  # type: ignore[attr-defined]
    assert ok.status_code == 200
    assert int(ok.headers["X-RateLimit-Remaining"]) > 0
    assert stats(api)["faults_injected"]["late_reset"] == 1


def test_clearing_faults_ends_a_pending_late_reset(api: requests.Session) -> None:
    control(api, {"clear": True, "rates": {"late_reset": 1.0}, "operations": ["listTags"]})
    assert api.get(f"{api.base}/tags").status_code == 429  # type: ignore[attr-defined]
    control(api, {"clear": True})
    assert api.get(f"{api.base}/tags").status_code == 200  # type: ignore[attr-defined]


def test_echo_token_quotes_the_authorization_header_and_writes_nothing(
    api: requests.Session,
) -> None:
    control(api, {"clear": True, "rates": {"echo_token": 1.0}, "operations": ["CreateContact"]})
    r = api.post(f"{api.base}/contacts", json={"email": "e@example.com"})  # type: ignore[attr-defined]
    assert r.status_code == 500
    err = r.json()["errors"][0]
    assert err["code"] == "server_error"
    assert f"Bearer {TOKEN}" in err["message"]
    control(api, {"clear": True})
    assert api.get(f"{api.base}/contacts").json()["total_count"] == 0  # type: ignore[attr-defined]
    assert stats(api)["faults_injected"]["echo_token"] == 1


def test_fault_rate_spreads_over_the_classic_kinds_only(api: requests.Session) -> None:
    cfg = control(api, {"clear": True, "fault_rate": 0.6})
    assert {k for k, v in cfg["rates"].items() if v} == set(SPREAD_KINDS)
    assert cfg["rates"]["late_reset"] == cfg["rates"]["echo_token"] == 0.0
    with pytest.raises(ValueError, match="more than 1"):
        Faults().configure({"rates": {"late_reset": 0.6, "echo_token": 0.6}})
