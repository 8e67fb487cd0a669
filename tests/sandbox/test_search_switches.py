"""The sandbox's behaviour switches (intercom_sandbox/settings.py, README "Switches"): where
Intercom's behaviour is unknown, each variant is offered. Set by start(...) keywords,
intercom-sandbox flags and /_sandbox/config; every response is checked against the spec."""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from intercom_sandbox.cli import build_parser, main
from intercom_sandbox.server import RunningSandbox, start
from intercom_sandbox.settings import SWITCHES, Settings

DAY = 86_400
X = calendar.timegm((2024, 3, 5, 10, 0, 0))


def q(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


def config(api: Any, **values: Any) -> requests.Response:
    return api.post(f"{api.base}/_sandbox/config", json=values)


def search(api: Any, path: str, body: dict[str, Any], **headers: str) -> requests.Response:
    return api.post(f"{api.base}/{path}/search", json=body, headers=headers)


def ids(api: Any, query: dict[str, Any], **headers: str) -> list[str]:
    r = search(api, "contacts", {"query": query, "pagination": {"per_page": 150}}, **headers)
    assert r.status_code == 200, r.text
    return sorted(c["id"] for c in r.json()["data"])


def make_contact(sandbox: RunningSandbox, **fields: Any) -> str:
    with sandbox.backend.lock:
        return sandbox.backend.contacts.create(fields)["id"]


# -- settings, CLI and control API ---------------------------------------------------------
def test_config_shows_and_sets_every_switch(api: Any) -> None:
    got = api.get(f"{api.base}/_sandbox/config").json()
    assert {k: got[k] for k in (*SWITCHES, "timezone")} == {
        "email_match": "case_insensitive",
        "conversation_order": "sorted",
        "contact_date_precision": "day",
        "deleted_order": "deleted_at",
        "timezone": "UTC",
    }
    new = {
        "email_match": "case_sensitive",
        "conversation_order": "unsorted",
        "contact_date_precision": "second",
        "deleted_order": "id",
        "timezone": "Asia/Tokyo",
    }
    r = config(api, **new)
    assert r.status_code == 200 and {k: r.json()[k] for k in new} == new
    # A bad value changes nothing, not even the good keys sent with it.
    bad = config(api, email_match="case_insensitive", conversation_order="random")
    assert bad.status_code == 400
    err = bad.json()["errors"][0]
    assert err["field"] == "conversation_order" and "sorted, unsorted" in err["message"]
    assert api.get(f"{api.base}/_sandbox/config").json()["email_match"] == "case_sensitive"
    unknown = config(api, colour="blue")
    assert (
        unknown.status_code == 400
        and "contact_date_precision" in unknown.json()["errors"][0]["message"]
    )
    # A reset keeps the settings (like the clock).
    api.post(f"{api.base}/_sandbox/reset")
    assert api.get(f"{api.base}/_sandbox/config").json()["timezone"] == "Asia/Tokyo"


def test_cli_flags_and_start_keywords() -> None:
    args = build_parser().parse_args(
        [
            "--email-match",
            "case_sensitive",
            "--conversation-order",
            "unsorted",
            "--contact-date-precision",
            "second",
            "--timezone",
            "America/Los_Angeles",
        ]
    )
    assert (args.email_match, args.conversation_order, args.contact_date_precision) == (
        "case_sensitive",
        "unsorted",
        "second",
    )
    assert args.timezone == "America/Los_Angeles"
    defaults = build_parser().parse_args([])
    assert (defaults.email_match, defaults.conversation_order) == ("case_insensitive", "sorted")
    assert (defaults.contact_date_precision, defaults.timezone) == ("day", "UTC")
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--email-match", "sometimes"])
    assert main(["--port", "0", "--timezone", "Nowhere/Special"]) == 2
    with start(email_match="case_sensitive", timezone="Asia/Tokyo") as sbx:
        assert sbx.backend.settings.to_dict()["email_match"] == "case_sensitive"
    with pytest.raises(ValueError, match="IANA"):
        Settings(timezone="Mars/Olympus")


# -- email_match ---------------------------------------------------------------------------
def test_email_match_switch(api: Any, sandbox: RunningSandbox) -> None:
    mixed = make_contact(sandbox, email="Ann.Lee@Example.com")
    other = make_contact(sandbox, email="bob@example.com")
    lower = "ann.lee@example.com"
    # Default: case_insensitive (FACTS.md §11 leaves it open).
    assert ids(api, q("email", "=", lower)) == [mixed]
    assert ids(api, q("email", "IN", [lower])) == [mixed]
    assert ids(api, q("email_domain", "=", "EXAMPLE.COM")) == sorted([mixed, other])
    assert config(api, email_match="case_sensitive").status_code == 200
    assert ids(api, q("email", "=", lower)) == []
    assert ids(api, q("email", "=", "Ann.Lee@Example.com")) == [mixed]
    assert ids(api, q("email", "IN", [lower, "bob@example.com"])) == [other]
    assert ids(api, q("email", "!=", lower)) == sorted([mixed, other])
    assert ids(api, q("email_domain", "=", "EXAMPLE.COM")) == []
    # ~ ^ $ stay case-insensitive (analysed fields), whatever the switch.
    assert ids(api, q("email", "^", "ANN")) == [mixed]
    config(api, email_match="case_insensitive")
    assert ids(api, q("email", "=", lower)) == [mixed]


# -- conversation_order --------------------------------------------------------------------
def _walk(api: Any, path: str, key: str, body: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
    cursor = None
    while True:
        pagination: dict[str, Any] = {"per_page": 7}
        if cursor:
            pagination["starting_after"] = cursor
        r = search(api, path, {**body, "pagination": pagination})
        assert r.status_code == 200, r.text
        page = r.json()
        yield page[key]
        if "next" not in page["pages"]:
            return
        cursor = page["pages"]["next"]["starting_after"]


@pytest.mark.parametrize(
    ("path", "key"), [("conversations", "conversations"), ("tickets", "tickets")]
)
def test_conversation_order_switch(api: Any, sandbox: RunningSandbox, path: str, key: str) -> None:
    backend = sandbox.backend
    with backend.lock:
        contact = backend.contacts.create({"email": "talker@example.com"})
        if path == "conversations":
            author = backend.conversations.author_for_contact(contact)
            made = [
                backend.conversations.create(
                    author=author, contact_ids=[contact["id"]], body="Hi", created_at=X + 60 * i
                )["id"]
                for i in range(40)
            ]
        else:
            backend.tickets.ensure_defaults()
            type_id = next(iter(backend.tickets.types))
            made = [
                backend.tickets.create(
                    ticket_type_id=type_id,
                    contact_ids=[contact["id"]],
                    title=f"T{i}",
                    created_at=X + 60 * i,
                )["id"]
                for i in range(40)
            ]
    body = {
        "query": q("updated_at", ">", X - 1),
        "sort": {"field": "updated_at", "order": "ascending"},
    }
    sorted_walk = [d for page in _walk(api, path, key, body) for d in page]
    assert [d["id"] for d in sorted_walk] == made  # default: the body's sort is honoured

    assert config(api, conversation_order="unsorted").status_code == 200
    pages = list(_walk(api, path, key, body))
    walk = [d for page in pages for d in page]
    assert sorted(d["id"] for d in walk) == sorted(made) and len(walk) == 40  # each once
    stamps = [d["updated_at"] for d in walk]
    assert stamps != sorted(stamps) and stamps != sorted(stamps, reverse=True)
    # Visibly out of order across pages, not only within one.
    firsts = [page[0]["updated_at"] for page in pages]
    assert firsts != sorted(firsts)
    # Stable: the same order again, and whatever the body's sort says.
    assert [d["id"] for d in walk] == [
        d["id"] for page in _walk(api, path, key, body) for d in page
    ]
    desc = {**body, "sort": {"field": "updated_at", "order": "descending"}}
    assert [d["id"] for page in _walk(api, path, key, desc) for d in page] == [
        d["id"] for d in walk
    ]
    # The sort is still checked.
    bad = search(api, path, {**body, "sort": {"field": "updated_at", "order": "up"}})
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "invalid_sort_order"


def test_unsorted_walk_survives_writes_between_pages(api: Any, sandbox: RunningSandbox) -> None:
    """Cursors still walk every match once: an update mid-walk moves nothing (the order is
    by id hash, not by time) and a new match lands somewhere, seen at most once."""
    backend = sandbox.backend
    with backend.lock:
        contact = backend.contacts.create({"email": "w@example.com"})
        author = backend.conversations.author_for_contact(contact)
        made = [
            backend.conversations.create(
                author=author, contact_ids=[contact["id"]], body="Hi", created_at=X + i
            )["id"]
            for i in range(30)
        ]
    config(api, conversation_order="unsorted")
    body = {"query": q("updated_at", ">", X - 1)}
    seen: list[str] = []
    for n, page in enumerate(_walk(api, "conversations", "conversations", body)):
        seen.extend(c["id"] for c in page)
        if n == 1:
            with backend.lock:
                conv = backend.conversations.require(made[0])
                backend.conversations.add_part(
                    conv, part_type="comment", author=author, body="again", created_at=X + 999
                )
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen))


# -- contact_date_precision and the Preview version ---------------------------------------
def _precision_fixture(sandbox: RunningSandbox) -> dict[str, str]:
    return {
        "before": make_contact(sandbox, email="b@example.com", updated_at=X - 1, created_at=X - 1),
        "at": make_contact(sandbox, email="a@example.com", updated_at=X, created_at=X),
        "after": make_contact(sandbox, email="c@example.com", updated_at=X + 1, created_at=X + 1),
        "signed": make_contact(
            sandbox, email="s@example.com", updated_at=X + 2, created_at=X + 2, signed_up_at=X
        ),
    }


def _expect_exact_seconds(api: Any, c: dict[str, str], **headers: str) -> None:
    assert ids(api, q("updated_at", ">", X), **headers) == sorted([c["after"], c["signed"]])
    assert ids(api, q("updated_at", ">=", X), **headers) == sorted(
        [c["at"], c["after"], c["signed"]]
    )
    assert ids(api, q("updated_at", "<", X), **headers) == [c["before"]]
    assert ids(api, q("updated_at", "<=", X), **headers) == sorted([c["before"], c["at"]])
    assert ids(api, q("updated_at", "=", X), **headers) == [c["at"]]
    # != also matches contacts with no value (FACTS.md §2.6, Preview).
    assert ids(api, q("signed_up_at", "!=", X + 5), **headers) == sorted(c.values())


def _expect_days(api: Any, c: dict[str, str], **headers: str) -> None:
    everyone = sorted(c.values())
    assert ids(api, q("updated_at", "=", X), **headers) == everyone  # the whole day
    assert ids(api, q("updated_at", ">", X), **headers) == []  # from the next day
    r = search(api, "contacts", {"query": q("updated_at", ">=", X)}, **headers)
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "parameter_invalid"


def test_contact_date_precision_switch(api: Any, sandbox: RunningSandbox) -> None:
    c = _precision_fixture(sandbox)
    _expect_days(api, c)  # default: day (stable versions)
    assert config(api, contact_date_precision="second").status_code == 200
    _expect_exact_seconds(api, c)
    _expect_exact_seconds(api, c, **{"Intercom-Version": "2.11"})


@pytest.mark.parametrize("version", ["Preview", "Unstable"])
def test_preview_version_is_exact_second_whatever_the_switch(
    api: Any, sandbox: RunningSandbox, version: str
) -> None:
    c = _precision_fixture(sandbox)
    _expect_exact_seconds(api, c, **{"Intercom-Version": version})
    _expect_days(api, c, **{"Intercom-Version": "2.16"})
    r = api.get(f"{api.base}/conversations/deleted", headers={"Intercom-Version": version})
    assert r.status_code == 200  # Preview is newer than 2.16


def test_date_custom_attributes_by_day_in_workspace_zone_or_utc_on_preview(
    api: Any, sandbox: RunningSandbox
) -> None:
    """Stable: Date custom attributes match by calendar day like standard dates, in the
    workspace zone. Preview (and the second switch): by day in UTC [SP]."""
    r = api.post(
        f"{api.base}/data_attributes",
        json={"name": "renewal", "model": "contact", "data_type": "date"},
    )
    assert r.status_code == 200, r.text
    tokyo_midnight = calendar.timegm((2024, 3, 4, 15, 0, 0))  # 2024-03-05 00:00 JST
    late = make_contact(
        sandbox, email="late@example.com", custom_attributes={"renewal": tokyo_midnight - 1}
    )
    early = make_contact(
        sandbox, email="early@example.com", custom_attributes={"renewal": tokyo_midnight}
    )
    on_5th = q("custom_attributes.renewal", "=", calendar.timegm((2024, 3, 5, 1, 0, 0)))
    assert ids(api, on_5th) == []  # UTC days: both are on the 4th
    config(api, timezone="Asia/Tokyo")
    assert ids(api, on_5th) == [early]  # JST: the second is on the 5th
    assert ids(api, on_5th, **{"Intercom-Version": "Preview"}) == []  # Preview: UTC days
    config(api, contact_date_precision="second")
    assert ids(api, on_5th) == []
    r = search(api, "contacts", {"query": q("custom_attributes.renewal", ">=", 1)})
    assert r.status_code == 400  # still day-based: = < > only
    assert ids(api, q("custom_attributes.renewal", "<", tokyo_midnight + DAY)) == sorted(
        [late, early]
    )


def test_a_cursor_from_before_a_switch_change_is_refused(api: Any, sandbox: RunningSandbox) -> None:
    """A cursor carries the reading it was made under (README, "Switches")."""
    for i in range(3):
        make_contact(sandbox, email=f"p{i}@example.com", updated_at=X + i, created_at=X + i)
    body = {"query": q("updated_at", "=", X), "pagination": {"per_page": 1}}
    first = search(api, "contacts", body).json()
    cursor = first["pages"]["next"]["starting_after"]
    config(api, timezone="America/Los_Angeles")
    r = search(api, "contacts", {**body, "pagination": {"per_page": 1, "starting_after": cursor}})
    assert r.status_code == 400 and "starting_after" in r.json()["errors"][0]["message"]
