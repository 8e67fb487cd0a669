"""What an Intercom notification must hold to be stored (FACTS.md §7).

The envelope: ``{"type": "notification_event", "id": "notif_...", "topic": "...", "app_id":
"...", "created_at": <unix>, "delivery_attempts": n, "first_sent_at": <unix>, "data": {"type":
"notification_event_data", "item": {"type": ..., "id": ...}}}``. Only what the store needs is
required (type, id, topic, data.item as an object); every topic is accepted, subscribed here
or not, and the body is kept verbatim.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

PING = "ping"


class BadNotification(ValueError):
    """The body is not a notification this receiver can store (answered 400)."""


@dataclass(frozen=True)
class Incoming:
    """One accepted notification, as the store keeps it (``body`` is the raw JSON text)."""

    notification_id: str
    topic: str
    app_id: str | None
    created_at: int | None
    delivery_attempts: int | None
    first_sent_at: int | None
    item_type: str | None
    item_id: str | None
    received_at: float
    body: str


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list, bool)):
        return None
    return str(value)


def parse(body: bytes, received_at: float) -> Incoming | None:
    """The notification in ``body`` (already signature-checked); None for a ``ping``.

    Raises BadNotification naming what is wrong.
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadNotification("the body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise BadNotification("the body is not a JSON object")
    if doc.get("type") != "notification_event":
        raise BadNotification("type is not notification_event")
    topic = doc.get("topic")
    if not isinstance(topic, str) or not topic:
        raise BadNotification("topic is missing")
    if topic == PING:
        return None  # Intercom's test request: answered, nothing to keep
    nid = doc.get("id")
    if not isinstance(nid, str) or not nid:
        raise BadNotification("id is missing (the notification id de-duplicates retries)")
    data = doc.get("data")
    item = data.get("item") if isinstance(data, dict) else None
    if not isinstance(item, dict):
        raise BadNotification("data.item is missing or not an object")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:  # orjson accepted it, so this cannot happen; be explicit anyway
        raise BadNotification("the body is not UTF-8") from None
    return Incoming(
        notification_id=nid,
        topic=topic,
        app_id=_str(doc.get("app_id")),
        created_at=_int(doc.get("created_at")),
        delivery_attempts=_int(doc.get("delivery_attempts")),
        first_sent_at=_int(doc.get("first_sent_at")),
        item_type=_str(item.get("type")),
        item_id=_str(item.get("id")),
        received_at=received_at,
        body=text,
    )
