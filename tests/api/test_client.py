"""IntercomClient against the sandbox over real HTTP: auth, errors, retries, paging, search."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from typing import Any

import orjson
import pytest
import requests

from intercom_api import ClientSettings, IntercomClient, errors
from intercom_api.ratelimit import RateLimiter
from intercom_sandbox.server import RunningSandbox

TOKEN = "sandbox-token"  # the token tests/conftest.py starts the sandbox with


class FakeTime:
    """Real time plus an offset that sleeping advances: retries and window waits are instant."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += seconds


def make_client(
    base_url: str, fake: FakeTime | None = None, token: str = TOKEN, **overrides: Any
) -> IntercomClient:
    fake = fake or FakeTime()
    settings = ClientSettings.from_config(
        {"access_token": token, "api_url": base_url, "max_retries": 4, **overrides}
    )
    settings = dataclasses.replace(settings, backoff_base=0.01, backoff_cap=0.05)
    limiter = RateLimiter(
        settings.max_requests_per_minute, time_fn=fake.time, sleep_fn=fake.sleep, jitter=0.0
    )
    return IntercomClient(settings, limiter=limiter, sleep=fake.sleep)


def faults(api: requests.Session, **config: Any) -> None:
    r = api.post(f"{api.base}/_sandbox/faults", json={"clear": True, **config})  # type: ignore[attr-defined]
    assert r.status_code == 200, r.text


def stats(api: requests.Session) -> dict[str, Any]:
    return api.get(f"{api.base}/_sandbox/stats").json()  # type: ignore[attr-defined]


def create_users(client: IntercomClient, n: int, prefix: str = "u") -> list[str]:
    return [
        client.post("/contacts", {"role": "user", "email": f"{prefix}{i}@example.com"})["id"]
        for i in range(n)
    ]


def test_get_sends_auth_and_version(sandbox: RunningSandbox, api: requests.Session) -> None:
    client = make_client(sandbox.base_url)
    me = client.get("/me")
    assert me["type"] == "admin"
    bad_version = make_client(sandbox.base_url, intercom_version="2.99")
    with pytest.raises(errors.BadRequestError) as info:
        bad_version.get("/me")
    assert info.value.code == "intercom_version_invalid"
    assert client.stats["by_status"] == {"200": 1}


def test_server_time_follows_the_date_header(
    sandbox: RunningSandbox, api: requests.Session
) -> None:
    api.post(f"{api.base}/_sandbox/clock", json={"set": 1_700_000_000, "frozen": True})  # type: ignore[attr-defined]
    client = make_client(sandbox.base_url)
    assert client.server_time() is None
    client.get("/me")
    assert client.server_time() == 1_700_000_000
    offset = client.server_clock_offset()
    assert offset is not None and offset < -1000


def test_401_fails_at_once_naming_access_token(
    sandbox: RunningSandbox, api: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "tok-VERY-SECRET-42"
    client = make_client(sandbox.base_url, token=secret)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(errors.AuthenticationError) as info:
        client.get("/contacts")
    message = str(info.value)
    assert "access_token" in message
    assert secret not in message and secret not in repr(info.value)
    assert secret not in caplog.text
    assert client.stats["requests"] == 1 and client.stats["retries"] == 0
    assert info.value.status == 401


def test_404_409_410_are_typed(sandbox: RunningSandbox, api: requests.Session) -> None:
    client = make_client(sandbox.base_url)
    with pytest.raises(errors.NotFoundError):
        client.get("/contacts/000000000000000000000000")
    user_id = client.post("/contacts", {"role": "user", "email": "dup@example.com"})["id"]
    with pytest.raises(errors.ConflictError) as conflict:
        client.post("/contacts", {"role": "user", "email": "dup@example.com"})
    assert conflict.value.existing_id == user_id
    lead_id = client.post("/contacts", {"role": "lead", "email": "dup@example.com"})["id"]
    client.post("/contacts/merge", {"from": lead_id, "into": user_id})
    with pytest.raises(errors.GoneError) as gone:
        client.get(f"/contacts/{lead_id}")
    assert gone.value.canonical_id == user_id


@pytest.mark.parametrize("kind", ["500", "502", "503", "drop", "truncate"])
def test_idempotent_requests_retry_each_failure_kind(
    sandbox: RunningSandbox, api: requests.Session, kind: str
) -> None:
    client = make_client(sandbox.base_url, max_retries=8)
    faults(api, rates={kind: 0.5}, operations=["listTags"])
    for _ in range(12):
        assert client.get("/tags")["type"] == "list"
    injected = stats(api)["faults_injected"][kind]
    assert injected > 0
    assert client.stats["retries"] == injected


def test_429_with_budget_left_backs_off_the_request_not_the_window(
    sandbox: RunningSandbox, api: requests.Session
) -> None:
    """The sandbox's "429" fault leaves budget in the window (FACTS.md §5): the client
    retries after a short backoff and a slower pace, and nobody waits for the window."""
    fake = FakeTime()
    client = make_client(sandbox.base_url, fake)
    faults(api, rates={"429": 0.5}, operations=["listTags"])
    for _ in range(8):
        client.get("/tags")
    injected = stats(api)["faults_injected"]["429"]
    assert injected > 0
    assert client.stats["rate_limited"] == injected
    assert client.limiter.throttles_with_budget == injected
    assert client.limiter.window_waits == 0  # no 429 held the limiter until the reset
    assert 0 < sum(fake.sleeps) < 10  # short backoffs and pacing, not windows
    assert client.limiter.counters()["min_effective_rate"] < client.limiter.counters()["full_rate"]


def test_429_with_budget_left_backoff_starts_short_and_grows(
    sandbox: RunningSandbox, api: requests.Session
) -> None:
    """Only the throttled request waits: 0.25-0.5 s, then doubling (not just jitter, as
    for a spent window where the limiter holds everyone)."""
    fake = FakeTime()
    backoffs: list[float] = []
    settings = ClientSettings.from_config(
        {"access_token": TOKEN, "api_url": sandbox.base_url, "max_retries": 3}
    )
    limiter = RateLimiter(
        settings.max_requests_per_minute, time_fn=fake.time, sleep_fn=fake.sleep, jitter=0.0
    )
    client = IntercomClient(settings, limiter=limiter, sleep=backoffs.append)
    faults(api, rates={"429": 1.0}, operations=["listTags"])
    with pytest.raises(errors.RateLimitError):
        client.get("/tags")
    assert len(backoffs) == 3
    for attempt, delay in enumerate(backoffs, 1):
        step = 0.5 * 2 ** (attempt - 1)
        assert step / 2 <= delay <= step, (attempt, delay)
    assert limiter.window_waits == 0 and limiter.throttles_with_budget == 4


def test_429_with_a_late_reset_waits_for_the_servers_reset(
    sandbox: RunningSandbox, api: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spent window whose X-RateLimit-Reset is after our own window end: the client waits
    for the server's Reset (real time, 1-second windows), and is not refused a second time."""
    monkeypatch.setattr("intercom_sandbox.ratelimit.WINDOW_SECONDS", 1)
    monkeypatch.setattr("intercom_api.ratelimit.WINDOW_SECONDS", 1.0)
    settings = ClientSettings.from_config(
        {"access_token": TOKEN, "api_url": sandbox.base_url, "max_retries": 4}
    )
    limiter = RateLimiter(settings.max_requests_per_minute, jitter=0.0)
    client = IntercomClient(settings, limiter=limiter)
    client.get("/me")  # learn the server's window phase first
    faults(api, rates={"late_reset": 1.0}, operations=["listTags"])
    refused = api.get(f"{api.base}/tags")  # type: ignore[attr-defined]
    assert refused.status_code == 429
    late = int(refused.headers["X-RateLimit-Reset"])
    # No new late resets, but the pending one stays ("clear" would end it).
    r = api.post(f"{api.base}/_sandbox/faults", json={"rates": {"late_reset": 0}})  # type: ignore[attr-defined]
    assert r.status_code == 200
    assert client.get("/tags")["type"] == "list"
    assert time.time() >= late
    assert client.stats["rate_limited"] == 1
    assert limiter.window_limited == 1 and limiter.throttles_with_budget == 0


def test_exhausted_retries_raise_the_final_kind(
    sandbox: RunningSandbox, api: requests.Session
) -> None:
    client = make_client(sandbox.base_url, max_retries=3)
    faults(api, rates={"503": 1.0}, operations=["listTags"])
    with pytest.raises(errors.ServerError) as info:
        client.get("/tags")
    assert info.value.status == 503
    assert "4 attempts" in str(info.value)
    assert stats(api)["operations"]["listTags"] == {"503": 4}
    faults(api, rates={"drop": 1.0}, operations=["listTags"])
    with pytest.raises(errors.TransportError):
        client.get("/tags")


def test_timeouts_are_retried_then_reported(sandbox: RunningSandbox, api: requests.Session) -> None:
    client = make_client(sandbox.base_url, max_retries=2, request_timeout=0.2)
    faults(api, latency_ms=600, operations=["listTags"])
    with pytest.raises(errors.TransportError) as info:
        client.get("/tags")
    assert info.value.code == "timeout"
    assert client.stats["retries"] == 2


def test_non_idempotent_write_is_not_retried_after_an_ambiguous_failure(
    sandbox: RunningSandbox, api: requests.Session
) -> None:
    client = make_client(sandbox.base_url)
    faults(api, rates={"drop": 1.0}, operations=["CreateContact"])
    with pytest.raises(errors.AmbiguousWriteError):
        client.post("/contacts", {"role": "lead", "email": "once@example.com"})
    faults(api)
    # The dropped answer hid a write that happened: exactly one lead exists, not two.
    found = client.post(
        "/contacts/search",
        {"query": {"field": "email", "operator": "=", "value": "once@example.com"}},
    )
    assert found is not None and found["total_count"] == 1
    assert stats(api)["operations"]["CreateContact"] == {"200": 1}


def test_non_idempotent_write_is_retried_after_429(
    sandbox: RunningSandbox, api: requests.Session
) -> None:
    client = make_client(sandbox.base_url)
    faults(api, rates={"429": 0.6}, operations=["CreateContact"])
    ids = create_users(client, 5)
    assert len(set(ids)) == 5
    assert stats(api)["faults_injected"]["429"] > 0


def test_idempotent_override_retries_a_post(sandbox: RunningSandbox, api: requests.Session) -> None:
    client = make_client(sandbox.base_url)
    faults(api, rates={"500": 0.5}, operations=["createOrUpdateCompany"])
    for i in range(6):
        company = client.post("/companies", {"company_id": f"c{i}", "name": "X"}, idempotent=True)
        assert company is not None and company["company_id"] == f"c{i}"
    assert client.stats["retries"] > 0


def test_connection_refused_is_retried_even_for_writes() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before use: nothing listens there
    fake = FakeTime()
    client = make_client(f"http://127.0.0.1:{port}", fake, max_retries=2)
    with pytest.raises(errors.TransportError) as info:
        client.post("/contacts", {"role": "lead"})
    assert info.value.code == "connect_failed"
    assert client.stats["retries"] == 2
    assert len(fake.sleeps) == 2


def test_iter_pages_walks_every_contact_once(
    sandbox: RunningSandbox, api: requests.Session
) -> None:
    client = make_client(sandbox.base_url)
    ids = create_users(client, 7)
    pages = list(client.iter_pages("/contacts", list_key="data", per_page=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(c["id"] for p in pages for c in p) == sorted(ids)


def test_iter_search_sends_per_page_and_cursor_in_the_body(
    sandbox: RunningSandbox, api: requests.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(sandbox.base_url)
    ids = create_users(client, 7)
    sent: list[tuple[str, Any, dict[str, Any]]] = []
    original = requests.Session.request

    def spy(self: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
        sent.append((url, kwargs.get("params"), orjson.loads(kwargs["data"])))
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    query = {"field": "role", "operator": "=", "value": "user"}
    sort = {"field": "updated_at", "order": "ascending"}
    pages = list(client.iter_search("/contacts/search", query, sort=sort, per_page=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert sorted(c["id"] for p in pages for c in p) == sorted(ids)
    assert len(sent) == 3
    for i, (url, params, body) in enumerate(sent):
        assert url.endswith("/contacts/search") and not params
        assert body["pagination"]["per_page"] == 3
        assert body["sort"] == sort and body["query"] == query
        assert ("starting_after" in body["pagination"]) == (i > 0)


def test_iter_search_refuses_a_query_over_the_limits(sandbox: RunningSandbox) -> None:
    client = make_client(sandbox.base_url)
    too_many = {
        "operator": "OR",
        "value": [{"field": "email", "operator": "=", "value": f"{i}@x.com"} for i in range(16)],
    }
    with pytest.raises(ValueError, match="at most 15"):
        next(client.iter_search("/contacts/search", too_many))
    assert client.stats["requests"] == 0


def test_concurrency_for_budget_follows_latency_and_budget() -> None:
    """Little's law: in flight = rate x latency (x1.25), between the floor and the ceiling."""
    settings = ClientSettings(access_token="t", base_url="http://127.0.0.1:9")
    client = IntercomClient(settings, limiter=RateLimiter(6000, jitter=0.0))  # 100/s
    assert client.concurrency_for_budget(floor=8) == 8  # nothing measured yet
    for _ in range(50):
        client._observe_latency(0.1)
    assert client.concurrency_for_budget(floor=8) == 13  # 100/s x 0.1 s x 1.25
    for _ in range(200):
        client._observe_latency(1.0)
    assert client.concurrency_for_budget(floor=8) == 32  # bounded
    assert client.concurrency_for_budget(floor=8, ceiling=200) == 125
