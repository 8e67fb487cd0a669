"""Webhooks: subscriptions, and notifications sent as Intercom sends them (FACTS.md §7).

A write (a contact created, updated, deleted, merged, archived; a conversation created or
deleted) calls ``backend.emit(topic, record)`` once applied, under the backend lock: the item
is rendered there (that version, as the API would show it) and queued for every active
subscription to the topic; nothing is rendered when nobody listens. Each subscription has its
delivery thread(s), which send outside the backend lock: a slow endpoint never slows the API.

What a notification looks like: the envelope ``{"type": "notification_event", "id":
"notif_...", "topic", "app_id", "created_at", "delivery_attempts", "first_sent_at", "data":
{"type": "notification_event_data", "item": {...}}}``, POSTed with ``User-Agent:
intercom-parrot-service-client/1.0`` and ``X-Hub-Signature: sha1=`` + the HMAC-SHA1 of the
raw body keyed with the subscription's client secret. ``contact.deleted`` and
``conversation.deleted`` carry only identifying fields; ``contact.merged`` carries the
resulting contact plus ``merged_from``; conversation bodies are plain text (API >= 2.15).

Order: by default one notification at a time per subscription, in the order written; a
failing one holds the queue until it is delivered or failed. Intercom documents neither
order nor concurrency; ``concurrency`` N > 1 keeps up to N in flight (sent in order, so they
may arrive interleaved) and retries a failing one without holding the others.

Delivery rules: a 2xx delivers; a timeout (5 s) is retried once after a minute; any other
status, or a connection that fails, is retried after a minute and fails after the 2nd retry;
429 throttles the subscription (retried after 1 min, doubling, dropped after 2 h); 410
disables the subscription. ``retry_scale`` multiplies those delays (0.01: a minute is 0.6 s),
so tests run in seconds. Not modelled: the 15-minute pauses after many errors and the
suspension after 7 days of errors.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend
    from intercom_sandbox.clock import Clock

# The topics the sandbox fires, with the permission Intercom asks for each [WH].
TOPICS: dict[str, str] = {
    "contact.user.created": "Read users and companies",
    "contact.lead.created": "Read users and companies",
    "contact.user.updated": "Read users and companies",
    "contact.lead.updated": "Read users and companies",
    "contact.deleted": "Read users and companies",
    "contact.merged": "Read users and companies",
    "contact.archived": "Read users and companies",
    "conversation.user.created": "Read conversations",
    "conversation.admin.single.created": "Read conversations",
    "conversation.deleted": "Read conversations",
}
PING = "ping"  # always subscribed
PING_ITEM = {"type": "ping", "message": "something something interzen"}
USER_AGENT = "intercom-parrot-service-client/1.0"
TIMEOUT = 5.0  # Intercom waits 5 s for an answer
RETRY_DELAY = 60.0  # "retried after 1 min"
MAX_ATTEMPTS = 3  # 4xx/5xx: the first send and 2 retries
MAX_TIMEOUT_ATTEMPTS = 2  # a timeout is retried once
THROTTLE_LIMIT = 7200.0  # 429: throttled 1 min to 2 h, dropped after more than 2 h
DELIVERED_IDS_KEPT = 100_000


def render_item(
    backend: Backend, topic: str, record: dict[str, Any], *, merged_from: str | None = None
) -> dict[str, Any]:
    """The ``data.item`` of a notification: the object as the API renders it."""
    if topic == "contact.deleted":  # deletions send only identifying fields
        return {"type": "contact", "id": record["id"], "external_id": record.get("external_id")}
    if topic == "conversation.deleted":
        return {"type": "conversation", "id": record["id"]}
    if topic.startswith("contact."):
        item = backend.contacts.render(record)
        if merged_from is not None:
            item["merged_from"] = {"type": "contact", "id": merged_from}
        return item
    # API >= 2.15: conversation source and part bodies are plain text in webhooks [S16:27443].
    return backend.conversations.render(record, parts=True, plaintext=True)


def sign(secret: bytes, body: bytes) -> str:
    return "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()


@dataclass
class Notification:
    id: str
    topic: str
    item: dict[str, Any]
    created_at: int
    attempts: int = 0
    first_sent_at: int | None = None
    due: float = 0.0  # time.monotonic() before which it is not (re)sent
    throttled_since: float | None = None
    throttles: int = 0
    in_flight: bool = False

    def body(self, app_id: str) -> bytes:
        return orjson.dumps(
            {
                "type": "notification_event",
                "app_id": app_id,
                "data": {"type": "notification_event_data", "item": self.item},
                "links": {},
                "id": self.id,
                "topic": self.topic,
                "delivery_status": "pending",
                "delivery_attempts": self.attempts,
                "delivered_at": 0,
                "first_sent_at": self.first_sent_at,
                "created_at": self.created_at,
                "self": None,
            }
        )


@dataclass
class Subscription:
    id: str
    url: str
    secret: bytes = field(repr=False)
    topics: frozenset[str]
    concurrency: int = 1
    state: str = "active"  # active | disabled (a 410) | removed
    queue: deque[Notification] = field(default_factory=deque)
    in_flight: int = 0
    delivered: int = 0
    failed: int = 0
    attempts: int = 0
    retries: int = 0
    last_status: int | str | None = None
    delivered_ids: deque[str] = field(default_factory=lambda: deque(maxlen=DELIVERED_IDS_KEPT))
    threads: list[threading.Thread] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """What the control API shows (never the secret)."""
        return {
            "id": self.id,
            "url": self.url,
            "topics": sorted(self.topics),
            "concurrency": self.concurrency,
            "state": self.state,
            "queued": len(self.queue),
            "delivered": self.delivered,
            "failed": self.failed,
            "attempts": self.attempts,
            "retries": self.retries,
            "last_status": self.last_status,
        }

    def next_ready(self, now: float) -> tuple[Notification | None, float | None]:
        """(a notification to send now, or None and how long to wait; None: until told)."""
        if self.concurrency == 1:  # strictly in order: only the head, when it is due
            if not self.queue or self.queue[0].in_flight:
                return None, None
            wait = self.queue[0].due - now
            return (self.queue[0], 0.0) if wait <= 0 else (None, wait)
        soonest: float | None = None
        for note in self.queue:  # in flight or waiting to be retried are few: a short walk
            if note.in_flight:
                continue
            wait = note.due - now
            if wait <= 0:
                return note, 0.0
            soonest = wait if soonest is None else min(soonest, wait)
        return None, soonest

    def remove(self, note: Notification) -> None:
        if self.queue and self.queue[0] is note:
            self.queue.popleft()
        else:
            self.queue.remove(note)


class Endpoint:
    """One keep-alive connection to a subscription's URL (one per delivery thread)."""

    def __init__(self, url: str, secret: bytes) -> None:
        parts = urlsplit(url)
        self.scheme, self.netloc = parts.scheme, parts.netloc
        self.target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self.secret = secret
        self.conn: http.client.HTTPConnection | None = None

    def send(self, body: bytes, timeout: float) -> int | str:
        """POST ``body`` signed: the HTTP status, or "timeout" / "error"."""
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "X-Hub-Signature": sign(self.secret, body),
        }
        for _ in range(2):
            reused = self.conn is not None
            conn = self.conn or self._connect(timeout)
            try:
                conn.request("POST", self.target, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except TimeoutError:
                self.close()
                return "timeout"
            except (OSError, http.client.HTTPException) as e:
                self.close()
                stale = isinstance(e, (http.client.RemoteDisconnected, BrokenPipeError))
                if reused and stale:
                    continue  # a keep-alive connection the server had closed: same attempt
                return "error"
            if response.will_close:
                self.close()
            else:
                self.conn = conn
            return response.status
        return "error"

    def _connect(self, timeout: float) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.netloc, timeout=timeout)
        return http.client.HTTPConnection(self.netloc, timeout=timeout)

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.close()
            self.conn = None


class WebhookSender:
    """Every subscription of the sandbox's app, and their delivery threads."""

    def __init__(self, *, app_id: str, clock: Clock, random_seed: int = 0) -> None:
        self.app_id = app_id
        self.clock = clock
        self.retry_scale = 1.0
        self.timeout = TIMEOUT  # how long an endpoint has to answer (tests shorten it)
        self._rng = random.Random(f"webhooks:{random_seed}")
        self._cv = threading.Condition()
        self._subs: dict[str, Subscription] = {}
        self._wanted: frozenset[str] = frozenset()
        self._serial = 0
        self._closed = False

    # -- subscriptions ----------------------------------------------------------------------
    def subscribe(
        self,
        url: str,
        client_secret: str,
        topics: list[str] | None = None,
        concurrency: int = 1,
    ) -> dict[str, Any]:
        """Add a subscription; a ValueError says what is wrong with the arguments."""
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("url must be an http:// or https:// URL")
        if not isinstance(client_secret, str) or not client_secret:
            raise ValueError("client_secret is required (the app's client secret signs bodies)")
        chosen = set(TOPICS) if topics is None else topics
        if not isinstance(chosen, (list, tuple, set)) or not all(
            isinstance(t, str) for t in chosen
        ):
            raise ValueError("topics must be a list of topic names")
        unknown = sorted(set(chosen) - set(TOPICS) - {PING})
        if unknown:
            raise ValueError(
                f"unknown topic(s) {', '.join(unknown)}; the sandbox sends: {', '.join(TOPICS)}"
            )
        if not isinstance(concurrency, int) or not 1 <= concurrency <= 64:
            raise ValueError("concurrency must be an integer from 1 to 64")
        with self._cv:
            self._serial += 1
            sub = Subscription(
                id=f"sub_{self._serial}",
                url=url,
                secret=client_secret.encode(),
                topics=frozenset(chosen) | {PING},
                concurrency=concurrency,
            )
            self._subs[sub.id] = sub
            for k in range(concurrency):
                thread = threading.Thread(
                    target=self._deliver, args=(sub,), name=f"webhooks-{sub.id}-{k}", daemon=True
                )
                sub.threads.append(thread)
                thread.start()
            self._refresh()
            return sub.to_dict()

    def unsubscribe(self, sub_id: str) -> None:
        with self._cv:
            sub = self._subs.pop(sub_id, None)
            if sub is None:
                raise KeyError(sub_id)
            sub.state = "removed"
            self._refresh()
            self._cv.notify_all()

    def subscription(self, sub_id: str) -> Subscription:
        return self._subs[sub_id]

    def delivered_ids(self, sub_id: str) -> list[str]:
        """Ids of the notifications the endpoint acknowledged (2xx), oldest first."""
        with self._cv:
            return list(self._subs[sub_id].delivered_ids)

    def list(self) -> list[dict[str, Any]]:
        with self._cv:
            return [s.to_dict() for s in self._subs.values()]

    def _refresh(self) -> None:
        self._wanted = frozenset(
            t for s in self._subs.values() if s.state == "active" for t in s.topics
        )

    # -- notifications ------------------------------------------------------------------------
    def wants(self, topic: str) -> bool:
        """Does any active subscription listen to ``topic``? (Cheap: every write asks.)"""
        return topic in self._wanted

    def emit(self, topic: str, item: dict[str, Any], only: str | None = None) -> list[str]:
        """Queue a notification of ``item`` for each subscription to ``topic``; their ids."""
        ids = []
        created_at = self.clock.now_int()
        with self._cv:
            for sub in self._subs.values():
                if sub.state != "active" or topic not in sub.topics:
                    continue
                if only is not None and sub.id != only:
                    continue
                nid = "notif_" + str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
                sub.queue.append(Notification(nid, topic, item, created_at))
                ids.append(nid)
            self._cv.notify_all()
        return ids

    def ping(self, sub_id: str) -> list[str]:
        """Intercom's test notification (``ping``) to one subscription."""
        if sub_id not in self._subs:
            raise KeyError(sub_id)
        return self.emit(PING, dict(PING_ITEM), only=sub_id)

    def wait_idle(self, timeout: float) -> bool:
        """Block until no subscription has anything queued or in flight (tests, benches)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while any(
                s.state == "active" and (s.queue or s.in_flight) for s in self._subs.values()
            ):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(left)
            return True

    def close(self) -> None:
        """Stop every delivery thread (what is still queued is not sent)."""
        with self._cv:
            self._closed = True
            subs = list(self._subs.values())
            self._cv.notify_all()
        for sub in subs:
            for thread in sub.threads:
                thread.join(self.timeout + 1)

    # -- delivery (one thread per subscription) ------------------------------------------------
    def _deliver(self, sub: Subscription) -> None:
        endpoint = Endpoint(sub.url, sub.secret)
        try:
            while True:
                with self._cv:
                    while True:
                        if self._closed or sub.state != "active":
                            return
                        note, wait = sub.next_ready(time.monotonic())
                        if note is not None:
                            break
                        self._cv.wait(wait)
                    note.in_flight = True
                    note.attempts += 1
                    if note.first_sent_at is None:
                        note.first_sent_at = self.clock.now_int()
                    sub.attempts += 1
                    sub.in_flight += 1
                    body = note.body(self.app_id)
                outcome = endpoint.send(body, self.timeout)  # no lock held while sending
                with self._cv:
                    note.in_flight = False
                    sub.in_flight -= 1
                    sub.last_status = outcome
                    self._settle(sub, note, outcome)
                    self._cv.notify_all()
        finally:
            endpoint.close()

    def _settle(self, sub: Subscription, note: Notification, outcome: int | str) -> None:
        """Apply Intercom's delivery rules to one attempt's outcome (FACTS.md §7)."""
        if sub.state != "active":
            return
        if isinstance(outcome, int) and 200 <= outcome < 300:
            sub.remove(note)
            sub.delivered += 1
            sub.delivered_ids.append(note.id)
            return
        if outcome == 410:  # the endpoint is gone: the subscription is disabled
            sub.state = "disabled"
            sub.failed += len(sub.queue)
            sub.queue.clear()
            self._refresh()
            return
        now = time.monotonic()
        scale = self.retry_scale
        if outcome == 429:  # throttled: 1 min, doubling, dropped after 2 h
            if note.throttled_since is None:
                note.throttled_since = now
            if now - note.throttled_since <= THROTTLE_LIMIT * scale:
                note.due = now + min(RETRY_DELAY * 2**note.throttles, THROTTLE_LIMIT) * scale
                note.throttles += 1
                sub.retries += 1
                return
        else:
            limit = MAX_TIMEOUT_ATTEMPTS if outcome == "timeout" else MAX_ATTEMPTS
            if note.attempts < limit:
                note.due = now + RETRY_DELAY * scale
                sub.retries += 1
                return
        sub.remove(note)
        sub.failed += 1
