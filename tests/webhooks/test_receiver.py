"""The receiver's rules, on SQLite and PostgreSQL: signature before parsing (401), size
limit (413), garbage (400), replays stored once, ping answered, acknowledgement only after
the commit, one log line per notification, the secret never logged."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence

import orjson
import pytest
import requests
from webhook_support import SECRET, notification, post_signed, stored

from intercom_webhooks.envelope import Incoming
from intercom_webhooks.server import RunningReceiver
from intercom_webhooks.server import start as start_receiver
from intercom_webhooks.store import Accepted, Store, Stored, StoreError


def body_of(nid: str, **extra: object) -> bytes:
    return orjson.dumps(notification(nid, **extra))


def test_a_signed_notification_is_stored_with_a_sequence_number(
    receiver: RunningReceiver, http: requests.Session, store_location: str
) -> None:
    r = post_signed(http, receiver.url, body_of("notif_a"))
    assert r.status_code == 200
    assert r.json()["seq"] >= 1
    rows = stored(store_location)
    assert [row.notification.notification_id for row in rows] == ["notif_a"]
    n = rows[0].notification
    assert (n.topic, n.item_type, n.item_id, n.app_id) == (
        "contact.user.created",
        "contact",
        "c-notif_a",
        "abc123",
    )
    assert orjson.loads(n.body) == notification("notif_a")  # the body, verbatim


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Hub-Signature": "sha1=" + "0" * 40},  # wrong
        {},  # missing
        {"X-Hub-Signature": "sha256=abc"},  # another scheme
    ],
    ids=["wrong", "missing", "not-sha1"],
)
def test_a_bad_signature_is_401_and_nothing_is_stored(
    receiver: RunningReceiver, http: requests.Session, store_location: str, headers: dict
) -> None:
    body = body_of("notif_b")
    r = http.post(receiver.url, data=body, headers={"Content-Type": "application/json", **headers})
    assert r.status_code == 401
    assert stored(store_location) == []


def test_a_body_signed_with_another_secret_or_altered_after_signing_is_401(
    receiver: RunningReceiver, http: requests.Session, store_location: str
) -> None:
    body = body_of("notif_c")
    assert post_signed(http, receiver.url, body, secret="another-app").status_code == 401
    from intercom_webhooks.signature import sign

    tampered = body.replace(b"contact.user.created", b"contact.user.deleted")
    r = http.post(
        receiver.url, data=tampered, headers={"X-Hub-Signature": sign(SECRET.encode(), body)}
    )
    assert r.status_code == 401
    assert stored(store_location) == []


def test_a_replayed_notification_is_acknowledged_and_stored_once(
    receiver: RunningReceiver, http: requests.Session, store_location: str
) -> None:
    first = post_signed(http, receiver.url, body_of("notif_r"))
    again = post_signed(http, receiver.url, body_of("notif_r"))
    # Intercom's retry of the same notification: other bytes (delivery_attempts), same id.
    retry = post_signed(http, receiver.url, body_of("notif_r", delivery_attempts=2))
    assert [first.status_code, again.status_code, retry.status_code] == [200, 200, 200]
    assert again.json() == {"ok": True, "duplicate": True}
    assert retry.json() == {"ok": True, "duplicate": True}
    rows = stored(store_location)
    assert [row.notification.notification_id for row in rows] == ["notif_r"]
    assert rows[0].notification.delivery_attempts == 1  # the first delivery is kept


def test_a_body_over_the_limit_is_413_and_not_read(
    store: Store, http: requests.Session, store_location: str
) -> None:
    running = start_receiver(store, SECRET.encode(), max_body_bytes=2048)
    try:
        small = body_of("notif_small")
        big = orjson.dumps(notification("notif_big", padding="x" * 4096))
        assert post_signed(http, running.url, big).status_code == 413
        assert post_signed(http, running.url, small).status_code == 200
    finally:
        running.stop()
    assert [r.notification.notification_id for r in stored(store_location)] == ["notif_small"]


@pytest.mark.parametrize(
    "body",
    [
        b"this is not json",
        b"[1, 2, 3]",
        b'{"type": "something_else", "id": "notif_x", "topic": "contact.user.created"}',
        orjson.dumps({k: v for k, v in notification("notif_x").items() if k != "id"}),
        orjson.dumps({k: v for k, v in notification("notif_x").items() if k != "topic"}),
        orjson.dumps({**notification("notif_x"), "data": {"type": "notification_event_data"}}),
        b"\xff\xfe garbage",
    ],
    ids=["text", "array", "type", "no-id", "no-topic", "no-item", "binary"],
)
def test_signed_garbage_is_400_and_nothing_is_stored(
    receiver: RunningReceiver, http: requests.Session, store_location: str, body: bytes
) -> None:
    r = post_signed(http, receiver.url, body)
    assert r.status_code == 400
    assert r.json()["error"]
    assert stored(store_location) == []


def test_unsigned_garbage_is_401_before_any_parsing(
    receiver: RunningReceiver, http: requests.Session
) -> None:
    r = http.post(receiver.url, data=b"not json at all")
    assert r.status_code == 401


def test_ping_is_answered_and_not_stored(
    receiver: RunningReceiver, http: requests.Session, store_location: str
) -> None:
    ping = {
        "type": "notification_event",
        "app_id": "abc123",
        "data": {"type": "notification_event_data", "item": {"type": "ping", "message": "hi"}},
        "id": None,
        "topic": "ping",
    }
    r = post_signed(http, receiver.url, orjson.dumps(ping))
    assert r.status_code == 200
    assert r.json()["ping"] is True
    assert stored(store_location) == []


def test_other_paths_and_methods_are_refused(
    receiver: RunningReceiver, http: requests.Session, store_location: str
) -> None:
    assert post_signed(http, receiver.base_url + "/elsewhere", body_of("n1")).status_code == 404
    assert http.put(receiver.url, data=body_of("n1")).status_code == 405
    assert stored(store_location) == []


def test_health_reports_the_store_and_its_last_sequence_number(
    receiver: RunningReceiver, http: requests.Session
) -> None:
    assert http.get(receiver.base_url + "/healthz").json()["last_seq"] == 0
    post_signed(http, receiver.url, body_of("notif_h"))
    health = http.get(receiver.base_url + "/healthz")
    assert health.status_code == 200
    doc = health.json()
    assert doc["status"] == "ok"
    assert doc["last_seq"] >= 1
    assert doc["outcomes"] == {"stored": 1}
    assert SECRET not in health.text


def test_concurrent_senders_each_stored_once_in_increasing_sequence(
    receiver: RunningReceiver, store_location: str
) -> None:
    """Eight connections at once, every notification sent twice: each stored once, the
    sequence numbers unique and increasing (the group committer batches them)."""
    ids = [f"notif_{i:04d}" for i in range(400)]

    def send(part: Sequence[str]) -> None:
        with requests.Session() as s:
            for nid in part:
                for _ in range(2):
                    assert post_signed(s, receiver.url, body_of(nid)).status_code == 200

    threads = [threading.Thread(target=send, args=(ids[k::8],)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = stored(store_location)
    assert sorted(r.notification.notification_id for r in rows) == ids
    seqs = [r.seq for r in rows]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == len(seqs)


class FailingStore(Store):
    """A store whose commits fail: nothing may be acknowledged."""

    kind = "failing"
    location = "nowhere"

    def append(self, batch: Sequence[Incoming]) -> list[Accepted]:
        raise StoreError("disk full")

    def read(self, after_seq: int, limit: int) -> list[Stored]:
        return []

    def last_seq(self) -> int:
        raise StoreError("disk full")

    def close(self) -> None:
        pass


@pytest.fixture
def failing_receiver() -> Iterator[RunningReceiver]:
    running = start_receiver(FailingStore(), SECRET.encode())
    try:
        yield running
    finally:
        running.stop()


def test_a_failed_commit_is_never_acknowledged(
    failing_receiver: RunningReceiver, http: requests.Session
) -> None:
    r = post_signed(http, failing_receiver.url, body_of("notif_f"))
    assert r.status_code == 503  # Intercom retries it
    assert http.get(failing_receiver.base_url + "/healthz").status_code == 503


def test_one_log_line_per_notification_and_never_the_secret(
    receiver: RunningReceiver, http: requests.Session, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="intercom_webhooks")
    post_signed(http, receiver.url, body_of("notif_l1"))
    post_signed(http, receiver.url, body_of("notif_l1"))
    post_signed(http, receiver.url, body_of("notif_l2"), secret="wrong")
    post_signed(http, receiver.url, b"garbage")
    lines = [r for r in caplog.records if r.getMessage() == "notification"]
    outcomes = [r.fields["outcome"] for r in lines]  # type: ignore[attr-defined]
    assert outcomes == ["stored", "duplicate", "bad_signature", "bad_request"]
    assert lines[0].fields["id"] == "notif_l1"  # type: ignore[attr-defined]
    assert lines[0].fields["topic"] == "contact.user.created"  # type: ignore[attr-defined]
    everything = caplog.text + "".join(repr(getattr(r, "fields", "")) for r in caplog.records)
    assert SECRET not in everything
