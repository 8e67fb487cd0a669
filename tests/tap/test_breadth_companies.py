"""Companies through the scroll (one per app, restarts, loops) and company_segments."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from tap_support import D0, DAY, SandboxControl, catalog_selecting, run_tap

from intercom_api import ApiResponse
from intercom_api.pagination import PageLoopError
from intercom_sandbox.server import RunningSandbox
from tap_intercom.streams import companies
from tap_intercom.transform import iso


def _all_companies(ctl: SandboxControl) -> dict[str, dict[str, Any]]:
    """Every listed company, via POST /companies/list (no scroll: that would hold it)."""
    out: dict[str, dict[str, Any]] = {}
    page = 1
    while True:
        r = ctl.api.post(f"{ctl.base}/companies/list", params={"page": page, "per_page": 60})
        assert r.status_code == 200, r.text
        body = r.json()
        out.update({c["id"]: c for c in body["data"]})
        if page >= body["pages"]["total_pages"]:
            return out
        page += 1


@pytest.fixture
def clock_sleep(ctl: SandboxControl, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The scroll's waits move the sandbox clock instead of sleeping; returns the waits."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        ctl.advance(seconds)

    monkeypatch.setattr(companies, "SLEEP", sleep)
    return waits


def test_companies_scroll_every_company_then_only_changes(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=400, companies=260)  # scroll pages hold 100 companies
    expected = _all_companies(ctl)
    assert len(expected) > 200
    catalog = catalog_selecting(["companies"])
    ctl.reset_stats()
    first = run_tap(sandbox.base_url, catalog=catalog, start_date=iso(D0 - 400 * DAY))
    assert sorted(first.ids("companies")) == sorted(expected)
    pages = -(-len(expected) // 100) + 1  # and the empty page that ends the scroll
    assert ctl.stats()["operations"]["scrollOverAllCompanies"] == {"200": pages}
    record = first.records("companies")[0]
    assert record["created_at"] == iso(expected[record["id"]]["created_at"])

    ctl.advance(3600)
    changed = next(iter(expected))
    ctl.api.put(f"{ctl.base}/companies/{changed}", json={"plan": "enterprise"})
    second = run_tap(sandbox.base_url, catalog=catalog, state=first.state)
    assert second.ids("companies") == [changed]
    assert second.records("companies")[0]["plan"]["name"] == "enterprise"


def test_a_scroll_left_open_elsewhere_is_waited_out(
    sandbox: RunningSandbox,
    ctl: SandboxControl,
    clock_sleep: list[float],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ctl.clock(D0)
    ctl.seed(users=100, companies=30)
    opened = ctl.api.get(f"{ctl.base}/companies/scroll")  # someone else's scroll
    assert opened.status_code == 200 and opened.json()["data"]
    caplog.set_level(logging.INFO, logger="intercom_api")  # the scroll walker logs there
    run = run_tap(sandbox.base_url, catalog=catalog_selecting(["companies"]))
    assert sorted(run.ids("companies")) == sorted(_all_companies(ctl))
    assert 60 <= sum(clock_sleep) <= 60 + companies.SCROLL_POLL_SECONDS  # it expires at 60 s
    assert "another scroll is open on this app" in caplog.text


def test_a_scroll_that_breaks_restarts_without_duplicates(
    sandbox: RunningSandbox,
    ctl: SandboxControl,
    clock_sleep: list[float],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ctl.clock(D0)
    ctl.seed(users=600, companies=450)
    expected = _all_companies(ctl)
    # A 502 is a page the server produced (the scroll moved on) whose answer was lost; a
    # 500 is Intercom's "restart the scroll operation" (FACTS.md §4).
    ctl.faults(rates={"502": 0.2, "500": 0.1}, operations=["scrollOverAllCompanies"])
    monkeypatch.setattr(companies, "SCROLL_RESTARTS", 20)
    caplog.set_level(logging.WARNING, logger="tap_intercom")
    run = run_tap(sandbox.base_url, catalog=catalog_selecting(["companies"]))
    ids = run.ids("companies")
    assert len(ids) == len(set(ids))
    assert set(ids) == set(expected)
    injected = ctl.stats()["faults_injected"]
    assert injected["502"] + injected["500"] > 0
    assert "restarting it" in caplog.text


def test_a_scroll_that_keeps_failing_stops_with_a_clear_error(
    sandbox: RunningSandbox, ctl: SandboxControl, clock_sleep: list[float]
) -> None:
    ctl.clock(D0)
    ctl.seed(users=50, companies=10)
    ctl.faults(rates={"500": 1.0}, operations=["scrollOverAllCompanies"])
    with pytest.raises(companies.ScrollError, match="broke 4 times"):
        run_tap(sandbox.base_url, catalog=catalog_selecting(["companies"]))


class _LoopingClient:
    """A client whose scroll serves the same page forever (an API fault)."""

    def __init__(self, same_param: bool) -> None:
        self.calls = 0
        self.same_param = same_param

    def request(self, method: str, path: str, **kwargs: Any) -> ApiResponse:
        self.calls += 1
        param = "p" if self.same_param else f"p{self.calls}"
        data = {"data": [{"id": "a"}, {"id": "b"}], "scroll_param": param}
        return ApiResponse(200, data, {}, None)


@pytest.mark.parametrize("same_param", [True, False])
def test_a_scroll_that_never_ends_is_detected(same_param: bool) -> None:
    client = _LoopingClient(same_param)
    scroll = companies.CompanyScroll(client)  # type: ignore[arg-type]
    with pytest.raises(PageLoopError, match="loops instead of ending"):
        for _ in scroll.pages():
            pass
    assert client.calls == 2
    assert scroll.ids == ["a", "b"]


def test_company_segments_asks_every_company_once_reusing_the_scroll(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=300, companies=120)
    expected = _all_companies(ctl)
    ctl.reset_stats()
    run = run_tap(sandbox.base_url, catalog=catalog_selecting(["companies", "company_segments"]))
    ops = ctl.stats()["operations"]
    assert ops["ListAttachedSegmentsForCompanies"] == {"200": len(expected)}
    assert ops["scrollOverAllCompanies"] == {"200": 3}  # one scroll (2 pages + the end)
    assert run.records("company_segments") == []  # the sandbox models no company segments

    ctl.reset_stats()
    run_tap(sandbox.base_url, catalog=catalog_selecting(["company_segments"]))
    ops = ctl.stats()["operations"]
    assert ops["ListAttachedSegmentsForCompanies"] == {"200": len(expected)}
    assert ops["scrollOverAllCompanies"] == {"200": 3}  # its own scroll
