"""Contact search's calendar days in the workspace timezone (FACTS.md §2.6; issue #10 item 1):
``=`` is the local day of the value, ``>`` starts at the next local midnight, ``<`` ends at
the day's local midnight; a day across a DST change is 23 or 25 hours long. Contacts are
written just before and just after local midnight and UTC midnight."""

from __future__ import annotations

import calendar
from typing import Any

import pytest
import requests

from intercom_sandbox.search_dates import day_bounds
from intercom_sandbox.server import RunningSandbox, start
from intercom_sandbox.settings import parse_zone

HOUR = 3600


def utc(*parts: int) -> int:
    return calendar.timegm((*parts, 0, 0, 0)[:6])


def q(op: str, value: int) -> dict[str, Any]:
    return {"field": "updated_at", "operator": op, "value": value}


class Workspace:
    """A sandbox whose workspace timezone is ``zone``, with a contact per named instant."""

    def __init__(self, sbx: RunningSandbox, instants: dict[str, int]) -> None:
        self.sbx = sbx
        self.s = requests.Session()
        self.s.headers.update({"Authorization": "Bearer sandbox-token", "Intercom-Version": "2.16"})
        self.name_of: dict[str, str] = {}
        with sbx.backend.lock:
            for name, ts in instants.items():
                c = sbx.backend.contacts.create(
                    {"email": f"{name}@example.com", "created_at": ts, "updated_at": ts}
                )
                self.name_of[c["id"]] = name

    def match(self, op: str, value: int) -> set[str]:
        r = self.s.post(
            f"{self.sbx.base_url}/contacts/search",
            json={"query": q(op, value), "pagination": {"per_page": 150}},
        )
        assert r.status_code == 200, r.text
        return {self.name_of[c["id"]] for c in r.json()["data"]}


@pytest.fixture
def workspace(request: pytest.FixtureRequest):
    zone, instants = request.param
    with start(timezone=zone) as sbx:
        yield Workspace(sbx, instants)


# 2024-01-10 in Los Angeles (PST, UTC-8): local midnight is 08:00Z.
LA_WINTER = {
    "utc_mid_9th_minus": utc(2024, 1, 9, 23, 59, 59),  # Jan 9 15:59:59 PST
    "utc_mid_10th": utc(2024, 1, 10),  # Jan 9 16:00 PST
    "la_mid_10th_minus": utc(2024, 1, 10, 7, 59, 59),  # Jan 9 23:59:59 PST
    "la_mid_10th": utc(2024, 1, 10, 8),  # Jan 10 00:00 PST
    "utc_mid_11th": utc(2024, 1, 11),  # Jan 10 16:00 PST
    "la_mid_11th_minus": utc(2024, 1, 11, 7, 59, 59),  # Jan 10 23:59:59 PST
    "la_mid_11th": utc(2024, 1, 11, 8),  # Jan 11 00:00 PST
}
LA_NOON_10TH = utc(2024, 1, 10, 20)  # Jan 10 12:00 PST

# 2024-01-10 in Tokyo (JST, UTC+9): local midnight is 15:00Z the day before.
TOKYO = {
    "jst_mid_10th_minus": utc(2024, 1, 9, 14, 59, 59),  # Jan 9 23:59:59 JST
    "jst_mid_10th": utc(2024, 1, 9, 15),  # Jan 10 00:00 JST
    "utc_mid_10th_minus": utc(2024, 1, 9, 23, 59, 59),  # Jan 10 08:59:59 JST
    "utc_mid_10th": utc(2024, 1, 10),  # Jan 10 09:00 JST
    "jst_mid_11th_minus": utc(2024, 1, 10, 14, 59, 59),  # Jan 10 23:59:59 JST
    "jst_mid_11th": utc(2024, 1, 10, 15),  # Jan 11 00:00 JST
    "utc_mid_11th": utc(2024, 1, 11),  # Jan 11 09:00 JST
}
TOKYO_NOON_10TH = utc(2024, 1, 10, 3)  # Jan 10 12:00 JST


@pytest.mark.parametrize("workspace", [("America/Los_Angeles", LA_WINTER)], indirect=True)
def test_los_angeles_days(workspace: Workspace) -> None:
    assert workspace.match("=", LA_NOON_10TH) == {
        "la_mid_10th",
        "utc_mid_11th",
        "la_mid_11th_minus",
    }
    assert workspace.match(">", LA_NOON_10TH) == {"la_mid_11th"}
    assert workspace.match("<", LA_NOON_10TH) == {
        "utc_mid_9th_minus",
        "utc_mid_10th",
        "la_mid_10th_minus",
    }
    # A value just before local midnight belongs to the day before.
    assert workspace.match("=", utc(2024, 1, 10, 7, 59, 59)) == {
        "utc_mid_9th_minus",
        "utc_mid_10th",
        "la_mid_10th_minus",
    }


@pytest.mark.parametrize("workspace", [("UTC", LA_WINTER)], indirect=True)
def test_the_same_contacts_by_utc_days(workspace: Workspace) -> None:
    """The default workspace zone, UTC: the same query splits the contacts elsewhere."""
    assert workspace.match("=", LA_NOON_10TH) == {
        "utc_mid_10th",
        "la_mid_10th_minus",
        "la_mid_10th",
    }
    assert workspace.match(">", LA_NOON_10TH) == {
        "utc_mid_11th",
        "la_mid_11th_minus",
        "la_mid_11th",
    }
    assert workspace.match("<", LA_NOON_10TH) == {"utc_mid_9th_minus"}


@pytest.mark.parametrize("workspace", [("Asia/Tokyo", TOKYO)], indirect=True)
def test_tokyo_days(workspace: Workspace) -> None:
    assert workspace.match("=", TOKYO_NOON_10TH) == {
        "jst_mid_10th",
        "utc_mid_10th_minus",
        "utc_mid_10th",
        "jst_mid_11th_minus",
    }
    assert workspace.match(">", TOKYO_NOON_10TH) == {"jst_mid_11th", "utc_mid_11th"}
    assert workspace.match("<", TOKYO_NOON_10TH) == {"jst_mid_10th_minus"}


# 2026-03-08, Los Angeles springs forward at 02:00 PST: the day is 23 hours long,
# from 08:00Z (PST midnight) to 07:00Z on the 9th (PDT midnight).
SPRING = {
    "before": utc(2026, 3, 8, 7, 59, 59),
    "start": utc(2026, 3, 8, 8),
    "last": utc(2026, 3, 9, 6, 59, 59),
    "next_day": utc(2026, 3, 9, 7),  # 24 h after the start would still be "the 8th"
    "next_day_2": utc(2026, 3, 9, 7, 30),
}
# 2026-11-01, Los Angeles falls back at 02:00 PDT: the day is 25 hours long,
# from 07:00Z (PDT midnight) to 08:00Z on the 2nd (PST midnight).
AUTUMN = {
    "before": utc(2026, 11, 1, 6, 59, 59),
    "start": utc(2026, 11, 1, 7),
    "hour_25": utc(2026, 11, 2, 7, 30),  # Nov 1 23:30 PST: 24 h would have ended the day
    "next_day": utc(2026, 11, 2, 8),
}


@pytest.mark.parametrize("workspace", [("America/Los_Angeles", SPRING)], indirect=True)
def test_dst_spring_forward_day_is_23_hours(workspace: Workspace) -> None:
    noon = utc(2026, 3, 8, 19)  # 12:00 PDT
    assert workspace.match("=", noon) == {"start", "last"}
    assert workspace.match(">", noon) == {"next_day", "next_day_2"}
    assert workspace.match("<", noon) == {"before"}
    assert workspace.match("=", utc(2026, 3, 9, 7)) == {"next_day", "next_day_2"}


@pytest.mark.parametrize("workspace", [("America/Los_Angeles", AUTUMN)], indirect=True)
def test_dst_fall_back_day_is_25_hours(workspace: Workspace) -> None:
    noon = utc(2026, 11, 1, 20)  # 12:00 PST
    assert workspace.match("=", noon) == {"start", "hour_25"}
    assert workspace.match(">", noon) == {"next_day"}
    assert workspace.match("<", noon) == {"before"}
    # 01:30 happens twice that night (PDT, then PST): both are the 1st.
    assert workspace.match("=", utc(2026, 11, 1, 9, 30)) == {"start", "hour_25"}


def test_day_bounds_follow_local_midnights() -> None:
    la = parse_zone("America/Los_Angeles")
    start, end = day_bounds(utc(2026, 3, 8, 19), la)
    assert (start, end - start) == (utc(2026, 3, 8, 8), 23 * HOUR)
    start, end = day_bounds(utc(2026, 11, 1, 20), la)
    assert (start, end - start) == (utc(2026, 11, 1, 7), 25 * HOUR)
    start, end = day_bounds(utc(2024, 1, 10, 3) + 0.75, parse_zone("Asia/Tokyo"))
    assert (start, end - start) == (utc(2024, 1, 9, 15), 24 * HOUR)
    # Where midnight itself is skipped (Santiago, 2022-09-11 00:00 -> 01:00), the day
    # starts at the first instant after the gap.
    start, end = day_bounds(utc(2022, 9, 11, 16), parse_zone("America/Santiago"))
    assert (start, end - start) == (utc(2022, 9, 11, 4), 23 * HOUR)


def test_timezone_set_through_the_control_api(api: Any, sandbox: RunningSandbox) -> None:
    """The control API changes the zone of an existing sandbox; /me follows."""
    with sandbox.backend.lock:
        c = sandbox.backend.contacts.create(
            {
                "email": "z@example.com",
                "created_at": TOKYO["jst_mid_10th"],
                "updated_at": TOKYO["jst_mid_10th"],
            }
        )
    body = {"query": q("=", TOKYO_NOON_10TH)}
    assert api.post(f"{api.base}/contacts/search", json=body).json()["total_count"] == 0
    assert (
        api.post(f"{api.base}/_sandbox/config", json={"timezone": "Asia/Tokyo"}).status_code == 200
    )
    found = api.post(f"{api.base}/contacts/search", json=body).json()
    assert [x["id"] for x in found["data"]] == [c["id"]]
    assert api.get(f"{api.base}/me").json()["app"]["timezone"] == "Asia/Tokyo"
