"""The sandbox sends webhooks as Intercom does (FACTS.md §7): the envelope, the signature,
the topics its writes fire, the delivery rules (retries, 410, 429, timeouts), per
subscription in order, from a thread that never holds the backend lock."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
import requests
from support.spec import checker, spec_available
from webhook_support import SECRET, TOKEN, Capture, wait_for

from intercom_sandbox.server import RunningSandbox, start
from intercom_sandbox.webhooks import TOPICS, USER_AGENT, WebhookSender


def sender(sbx: RunningSandbox) -> WebhookSender:
    return sbx.backend.webhooks


def idle(sbx: RunningSandbox) -> None:
    assert sender(sbx).wait_idle(30), "webhook deliveries did not finish"


def new_contact(api: requests.Session, sbx: RunningSandbox, **fields: Any) -> dict[str, Any]:
    r = api.post(f"{sbx.base_url}/contacts", json=fields)
    assert r.status_code == 200, r.text
    return r.json()


def start_conversation(sbx: RunningSandbox, contact_id: str, *, by_admin: bool = False) -> str:
    """Conversations are started in the backend: the sandbox models no create endpoint."""
    backend = sbx.backend
    with backend.lock:
        store = backend.conversations
        if by_admin:
            admin = next(iter(backend.workspace.admins.values()))
            author = store.author_for_admin(admin)
        else:
            author = store.author_for_contact(backend.contacts.require(contact_id))
        return store.create(
            author=author, contact_ids=[contact_id], body="<p>Hello <b>you</b></p>"
        )["id"]


def test_envelope_headers_and_signature(
    sandbox_to_capture: RunningSandbox, capture: Capture, api: requests.Session
) -> None:
    contact = new_contact(api, sandbox_to_capture, role="user", email="ada@example.com")
    idle(sandbox_to_capture)
    [req] = capture.requests
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["user-agent"] == USER_AGENT
    assert headers["content-type"] == "application/json"
    expected = "sha1=" + hmac.new(SECRET.encode(), req["body"], hashlib.sha1).hexdigest()
    assert headers["x-hub-signature"] == expected
    assert req["path"] == "/hook"
    [body] = capture.bodies()
    assert body["type"] == "notification_event"
    assert body["id"].startswith("notif_")
    assert body["topic"] == "contact.user.created"
    assert body["app_id"] == sandbox_to_capture.backend.workspace_id
    assert body["delivery_attempts"] == 1
    assert isinstance(body["created_at"], int)
    assert body["first_sent_at"] >= body["created_at"]
    assert body["data"]["type"] == "notification_event_data"
    item = body["data"]["item"]
    assert (item["type"], item["id"], item["email"], item["role"]) == (
        "contact",
        contact["id"],
        "ada@example.com",
        "user",
    )


def test_each_write_fires_its_topic(
    sandbox_to_capture: RunningSandbox, capture: Capture, api: requests.Session
) -> None:
    sbx = sandbox_to_capture
    base = sbx.base_url
    user = new_contact(api, sbx, role="user", email="u@example.com")
    lead = new_contact(api, sbx, role="lead", email="u@example.com")
    assert api.put(f"{base}/contacts/{user['id']}", json={"name": "U"}).status_code == 200
    assert api.put(f"{base}/contacts/{lead['id']}", json={"name": "L"}).status_code == 200
    merge = api.post(f"{base}/contacts/merge", json={"from": lead["id"], "into": user["id"]})
    assert merge.status_code == 200
    other = new_contact(api, sbx, role="user", email="o@example.com", external_id="ext-9")
    assert api.post(f"{base}/contacts/{other['id']}/archive").status_code == 200
    gone = new_contact(api, sbx, role="user", email="g@example.com", external_id="ext-7")
    assert api.delete(f"{base}/contacts/{gone['id']}").status_code == 200
    by_user = start_conversation(sbx, user["id"])
    by_admin = start_conversation(sbx, user["id"], by_admin=True)
    assert api.delete(f"{base}/conversations/{by_user}").status_code == 200
    idle(sbx)
    assert capture.topics() == [
        "contact.user.created",
        "contact.lead.created",
        "contact.user.updated",
        "contact.lead.updated",
        "contact.merged",
        "contact.user.created",
        "contact.archived",
        "contact.user.created",
        "contact.deleted",
        "conversation.user.created",
        "conversation.admin.single.created",
        "conversation.deleted",
    ]
    items = [b["data"]["item"] for b in capture.bodies()]
    # contact.merged: the resulting user, plus the lead merged away.
    assert items[4]["id"] == user["id"]
    assert items[4]["merged_from"] == {"type": "contact", "id": lead["id"]}
    # Deletions send only identifying fields.
    assert items[8] == {"type": "contact", "id": gone["id"], "external_id": "ext-7"}
    assert items[11] == {"type": "conversation", "id": by_user}
    # Conversations: the object, bodies as plain text (API >= 2.15, FACTS.md §7).
    assert items[9]["id"] == by_user
    assert items[9]["source"]["body"] == "Hello you"
    assert items[9]["source"]["author"]["id"] == user["id"]
    assert items[10]["id"] == by_admin
    assert items[10]["source"]["author"]["type"] == "admin"
    assert len({b["id"] for b in capture.bodies()}) == 12  # one id per notification


@pytest.mark.skipif(not spec_available(), reason="the 2.16 spec is not in ../shared")
def test_items_match_the_spec_objects(
    sandbox_to_capture: RunningSandbox, capture: Capture, api: requests.Session
) -> None:
    user = new_contact(api, sandbox_to_capture, role="user", email="s@example.com")
    start_conversation(sandbox_to_capture, user["id"])
    idle(sandbox_to_capture)
    spec = checker()
    contact_item, conversation_item = (b["data"]["item"] for b in capture.bodies())
    for pointer, item in (
        ("#/components/schemas/contact", contact_item),
        ("#/components/schemas/conversation", conversation_item),
    ):
        errors = [e.message for e in spec._validator_for_pointer(pointer).iter_errors(item)]
        assert errors == [], pointer


def test_a_subscription_gets_only_its_topics(capture: Capture, api: requests.Session) -> None:
    sbx = start(
        tokens=[TOKEN],
        webhook_url=capture.url,
        client_secret=SECRET,
        webhook_topics=["contact.lead.created"],
    )
    try:
        new_contact(api, sbx, role="user", email="a@example.com")
        new_contact(api, sbx, role="lead", email="b@example.com")
        idle(sbx)
    finally:
        sbx.stop()
        sender(sbx).close()
    assert capture.topics() == ["contact.lead.created"]


def test_nothing_is_sent_without_a_subscription(capture: Capture, api: requests.Session) -> None:
    sbx = start(tokens=[TOKEN])
    try:
        new_contact(api, sbx, role="user", email="a@example.com")
        assert not sender(sbx).wants("contact.user.created")
        assert sender(sbx).list() == []
    finally:
        sbx.stop()
        sender(sbx).close()
    assert capture.requests == []


def test_errors_are_retried_then_failed_and_the_queue_goes_on(
    sandbox_to_capture: RunningSandbox, capture: Capture, api: requests.Session
) -> None:
    """A 5xx/4xx is retried after a (scaled) minute and fails after the 2nd retry."""
    capture.script = [500, 404, 503, 500, 200]
    first = new_contact(api, sandbox_to_capture, role="user", email="1@example.com")
    second = new_contact(api, sandbox_to_capture, role="user", email="2@example.com")
    idle(sandbox_to_capture)
    bodies = capture.bodies()
    ids = [b["data"]["item"]["id"] for b in bodies]
    assert ids == [first["id"]] * 3 + [second["id"]] * 2  # in order: the head first
    assert [b["delivery_attempts"] for b in bodies] == [1, 2, 3, 1, 2]
    assert len({b["id"] for b in bodies[:3]}) == 1  # the same notification, retried
    assert len({b["first_sent_at"] for b in bodies[:3]}) == 1
    [sub] = sender(sandbox_to_capture).list()
    assert (sub["delivered"], sub["failed"], sub["retries"]) == (1, 1, 3)


def test_a_timeout_is_retried_once(
    sandbox_to_capture: RunningSandbox, capture: Capture, api: requests.Session
) -> None:
    sender(sandbox_to_capture).timeout = 0.5  # Intercom waits 5 s; same rule, shorter
    capture.script = ["hang", "hang"]
    new_contact(api, sandbox_to_capture, role="user", email="t@example.com")
    wait_for(lambda: sender(sandbox_to_capture).list()[0]["failed"] == 1, what="the failure")
    capture.release.set()
    assert len(capture.requests) == 2  # first send + one retry, then failed
    assert [b["delivery_attempts"] for b in capture.bodies()] == [1, 2]


def test_429_throttles_beyond_the_error_retries(capture: Capture, api: requests.Session) -> None:
    sbx = start(
        tokens=[TOKEN], webhook_url=capture.url, client_secret=SECRET, webhook_retry_scale=0.002
    )
    try:
        capture.script = [429, 429, 429, 200]
        new_contact(api, sbx, role="user", email="t@example.com")
        idle(sbx)
        [sub] = sender(sbx).list()
    finally:
        sbx.stop()
        sender(sbx).close()
    assert [b["delivery_attempts"] for b in capture.bodies()] == [1, 2, 3, 4]
    assert (sub["delivered"], sub["failed"]) == (1, 0)


def test_410_disables_the_subscription(
    sandbox_to_capture: RunningSandbox, capture: Capture, api: requests.Session
) -> None:
    capture.script = [410]
    new_contact(api, sandbox_to_capture, role="user", email="a@example.com")
    wait_for(lambda: sender(sandbox_to_capture).list()[0]["state"] == "disabled", what="410")
    new_contact(api, sandbox_to_capture, role="user", email="b@example.com")
    idle(sandbox_to_capture)
    assert len(capture.requests) == 1
    assert not sender(sandbox_to_capture).wants("contact.user.created")


def test_sending_never_holds_the_backend_lock(
    sandbox_to_capture: RunningSandbox, capture: Capture, api: requests.Session
) -> None:
    """While the endpoint has not answered, the API keeps serving (reads and writes)."""
    sender(sandbox_to_capture).timeout = 60  # the hang lasts until released below
    capture.script = ["hang"]
    new_contact(api, sandbox_to_capture, role="user", email="a@example.com")
    wait_for(lambda: capture.requests, what="the first delivery")
    base = sandbox_to_capture.base_url
    assert api.get(f"{base}/contacts", timeout=10).status_code == 200
    new_contact(api, sandbox_to_capture, role="user", email="b@example.com")
    assert len(capture.requests) == 1  # still hanging: the second waits its turn (in order)
    capture.release.set()
    idle(sandbox_to_capture)
    assert capture.topics()[1:] == ["contact.user.created"] * 2  # retried head, then the next


def test_control_endpoint_adds_lists_pings_and_removes(
    capture: Capture, api: requests.Session
) -> None:
    sbx = start(tokens=[TOKEN])
    ctl = f"{sbx.base_url}/_sandbox/webhooks"
    try:
        added = api.post(
            ctl,
            json={
                "url": capture.url,
                "client_secret": SECRET,
                "topics": ["contact.user.created", "contact.deleted"],
            },
        )
        assert added.status_code == 200
        sub = added.json()
        assert sub["topics"] == ["contact.deleted", "contact.user.created", "ping"]
        listed = api.get(ctl)
        assert [s["id"] for s in listed.json()["data"]] == [sub["id"]]
        assert SECRET not in listed.text and SECRET not in added.text
        ping = api.post(ctl, json={"action": "ping", "id": sub["id"]})
        assert ping.status_code == 200
        new_contact(api, sbx, role="user", email="a@example.com")
        idle(sbx)
        assert capture.topics() == ["ping", "contact.user.created"]
        assert capture.bodies()[0]["data"]["item"]["type"] == "ping"
        assert api.post(ctl, json={"action": "remove", "id": sub["id"]}).status_code == 200
        new_contact(api, sbx, role="user", email="b@example.com")
        assert api.get(ctl).json()["data"] == []
        config = api.post(ctl, json={"action": "config", "retry_scale": 0.5})
        assert config.json()["retry_scale"] == 0.5
    finally:
        sbx.stop()
        sender(sbx).close()
    assert len(capture.requests) == 2


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"url": "ftp://x", "client_secret": "s"}, 400),
        ({"url": "http://127.0.0.1:9/", "client_secret": ""}, 400),
        ({"url": "http://127.0.0.1:9/", "client_secret": "s", "topics": ["user.created"]}, 400),
        ({"action": "remove", "id": "sub_404"}, 404),
        ({"action": "explode"}, 400),
    ],
    ids=["scheme", "no-secret", "old-topic-name", "unknown-id", "unknown-action"],
)
def test_control_endpoint_refuses_bad_requests(
    api: requests.Session, body: dict[str, Any], status: int
) -> None:
    sbx = start(tokens=[TOKEN])
    try:
        r = api.post(f"{sbx.base_url}/_sandbox/webhooks", json=body)
        assert r.status_code == status
        assert sender(sbx).list() == []
    finally:
        sbx.stop()
        sender(sbx).close()


def test_every_documented_topic_is_known() -> None:
    assert set(TOPICS) == {
        "contact.user.created",
        "contact.lead.created",
        "contact.user.updated",
        "contact.lead.updated",
        "contact.deleted",
        "contact.merged",
        "contact.archived",
        "conversation.user.created",
        "conversation.admin.single.created",
        "conversation.deleted",
    }


def test_with_several_in_flight_a_failing_one_does_not_hold_the_others(
    capture: Capture, api: requests.Session
) -> None:
    """concurrency > 1 (Intercom documents neither order nor concurrency): every
    notification still arrives, a failing one is retried while the others go on."""
    sbx = start(
        tokens=[TOKEN],
        webhook_url=capture.url,
        client_secret=SECRET,
        webhook_retry_scale=0.05,  # the retry comes 3 s later: after the others
        webhook_concurrency=4,
    )
    try:
        capture.script = [500]
        ids = [new_contact(api, sbx, role="lead", email=f"{i}@x.io")["id"] for i in range(10)]
        idle(sbx)
        [sub] = sender(sbx).list()
    finally:
        sbx.stop()
        sender(sbx).close()
    items = [b["data"]["item"]["id"] for b in capture.bodies()]
    assert sorted(set(items)) == sorted(ids)
    assert len(items) == 11  # one retry
    [retried] = [i for i in ids if items.count(i) == 2]  # whichever met the 500
    assert items[-1] == retried  # retried 3 s later, after all the others
    assert capture.bodies()[-1]["delivery_attempts"] == 2
    assert (sub["delivered"], sub["failed"], sub["concurrency"]) == (10, 0, 4)


def test_concurrency_is_checked(api: requests.Session) -> None:
    sbx = start(tokens=[TOKEN])
    try:
        body = {"url": "http://127.0.0.1:9/", "client_secret": "s", "concurrency": 0}
        assert api.post(f"{sbx.base_url}/_sandbox/webhooks", json=body).status_code == 400
    finally:
        sbx.stop()
        sender(sbx).close()
