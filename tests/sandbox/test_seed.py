"""Seed data: deterministic, untidy on purpose, spread over time, and usable over HTTP."""

from __future__ import annotations

from collections import Counter

import pytest
import requests

from intercom_sandbox.backend import Backend
from intercom_sandbox.clock import Clock
from intercom_sandbox.seed import SEED_KINDS, seed_backend

NOW = 1_750_000_000
DAY = 86_400
COUNTS = {"users": 120, "leads": 40, "companies": 12, "conversations": 60, "tickets": 10}


def _seeded(seed: int = 3, counts: dict[str, int] | None = None) -> Backend:
    backend = Backend(random_seed=seed, clock=Clock(NOW, frozen=True))
    seed_backend(backend, counts or COUNTS)
    return backend


@pytest.fixture(scope="module")
def seeded() -> Backend:
    return _seeded()


def test_same_seed_same_workspace():
    a, b = _seeded(), _seeded()
    assert a.dump() == b.dump()
    assert _seeded(seed=4).dump() != a.dump()


def test_counts_defaults_and_clock_restored():
    backend = Backend(random_seed=1, clock=Clock(NOW, frozen=True))
    created = seed_backend(backend, COUNTS)
    assert backend.clock.now() == NOW and backend.clock.frozen
    assert {k: created[k] for k in COUNTS} == COUNTS
    # Admins, teams, tags, segments and articles come with sensible defaults.
    assert created["admins"] >= 1 and created["tags"] >= 1 and created["segments"] >= 1
    assert len(backend.contacts) == 160
    assert len(backend.workspace.admins) == 1 + created["admins"]
    # A second seed adds to the first without colliding (unique e-mails, company_ids).
    again = seed_backend(backend, {"users": 10, "companies": 2})
    assert again == {"companies": 2, "users": 10}
    assert len(backend.contacts) == 170 and len(backend.companies.by_id) == 14


def test_running_clock_is_given_back():
    backend = Backend(random_seed=1)
    before = backend.clock.now()
    seed_backend(backend, {"users": 5})
    assert not backend.clock.frozen
    assert 0 <= backend.clock.now() - before < 60


def test_contacts_are_untidy(seeded):
    contacts = list(seeded.contacts.all_live())
    roles = Counter(c["role"] for c in contacts)
    assert roles == {"user": 120, "lead": 40}
    names = [c.get("name") for c in contacts]
    assert any(n is None for n in names)  # no name at all
    assert any(n and not n.isascii() for n in names)  # accents, CJK, emoji
    assert any(c.get("phone") is None for c in contacts)
    assert any(c["role"] == "lead" and not c.get("email") for c in contacts)
    assert all(c.get("email") or c.get("external_id") for c in contacts if c["role"] == "user")
    attrs = Counter(k for c in contacts for k in (c.get("custom_attributes") or {}))
    assert {"plan_tier", "seats", "mrr", "beta_user", "trial_ends_at"} <= set(attrs)
    assert any(seeded.contacts.tag_ids(c) for c in contacts)


def test_timestamps_spread_over_months_with_busy_days(seeded):
    contacts = list(seeded.contacts.all_live())
    created = [c["created_at"] for c in contacts]
    assert max(created) <= NOW and max(created) - min(created) > 180 * DAY
    days = Counter(c["updated_at"] // DAY for c in contacts)
    # Many contacts are updated on the same few days (day-granular search, FACTS.md §2.6).
    assert days.most_common(1)[0][1] >= 8
    for c in contacts:
        assert c["updated_at"] >= c["created_at"]


def test_companies_conversations_tickets(seeded):
    companies = list(seeded.companies.by_id.values())
    assert all(seeded.companies.user_count(c) >= 1 for c in companies)
    assert any(not c["name"].isascii() for c in companies) or len(companies) < 5
    convs = list(seeded.conversations.all_live())
    authors = Counter(p["author"]["type"] for c in convs for p in c["parts"])
    assert {"admin", "user"} <= set(authors)
    source_authors = {c["source"]["author"]["type"] for c in convs}
    assert {"user", "lead", "admin"} <= source_authors
    assert max(len(c["parts"]) for c in convs) > 3 and min(len(c["parts"]) for c in convs) >= 0
    assert all(len(c["parts"]) <= 500 for c in convs)  # long ones only on request
    assert {c["state"] for c in convs} >= {"open", "closed"}
    for c in convs:
        times = [p["created_at"] for p in c["parts"]]
        assert times == sorted(times) and c["updated_at"] >= c["created_at"]
        assert all(t <= NOW for t in times)
    tickets = list(seeded.tickets.all_live())
    assert len(tickets) == 10 and {t["category"] for t in tickets} <= {
        "Customer",
        "Back-office",
        "Tracker",
    }


def test_long_conversations_on_request():
    backend = _seeded(counts={"users": 3, "long_conversations": 1})
    (conv,) = backend.conversations.all_live()
    assert len(conv["parts"]) > 500
    rendered = backend.conversations.render(conv, parts=True)
    assert len(rendered["conversation_parts"]["conversation_parts"]) == 500
    assert rendered["conversation_parts"]["total_count"] == len(conv["parts"])


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError):
        seed_backend(Backend(), {"unicorns": 1})
    assert "long_conversations" in SEED_KINDS


def test_seed_over_http_then_walk(api, sandbox):
    r = requests.post(
        f"{sandbox.base_url}/_sandbox/seed",
        json={"users": 20, "leads": 5, "companies": 3, "conversations": 12, "tickets": 3},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["created"]["conversations"] == 12
    listed = api.get(f"{api.base}/conversations", params={"per_page": 150}).json()
    assert listed["total_count"] == 12
    one = api.get(f"{api.base}/conversations/{listed['conversations'][0]['id']}").json()
    assert one["conversation_parts"]["total_count"] == len(
        one["conversation_parts"]["conversation_parts"]
    )
    scroll = api.get(f"{api.base}/companies/scroll").json()
    assert len(scroll["data"]) == 3
    tickets = api.post(
        f"{api.base}/tickets/search",
        json={"query": {"field": "created_at", "operator": ">", "value": 0}},
    ).json()
    assert tickets["total_count"] == 3
    assert api.get(f"{api.base}/segments", params={"include_count": "true"}).status_code == 200
    assert len(api.get(f"{api.base}/admins").json()["admins"]) >= 2
