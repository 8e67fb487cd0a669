"""Stream `webhook_events`: Intercom's webhook notifications, from intercom-webhooks' store.

Contact search lags writes by minutes, and deleted or merged-away contacts vanish from list
and search without a trace (FACTS.md §2.4, §2.6): webhooks (FACTS.md §7) tell both at once.
The ``intercom-webhooks`` receiver stores every notification once; this stream reads that
store (the ``webhook_store`` setting: a SQLite path or a ``postgresql://`` URL), not the API.

Incremental on ``seq``, the store's own sequence number, which increases in commit order
(``intercom_webhooks/store.py``): a run resumes after the last number emitted, so nothing is
skipped or repeated. A run reads up to the last number stored when it started, so a busy
receiver cannot keep it going forever. Records of ``contact.deleted``, ``contact.merged``
(the contact merged away is ``merged_from``) and ``conversation.deleted`` carry the deleted
id in ``deleted_id`` and the Singer soft-delete marker ``_sdc_deleted_at``.

Not selected by default: it needs a store. Selected without ``webhook_store`` (Meltano
selects every stream unless told otherwise), it logs why and emits nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from intercom_schemas import load_schema
from singer_sdk import Stream
from typing_extensions import override

from intercom_api import ConfigError
from intercom_webhooks.store import Stored, StoreError, open_store
from tap_intercom.transform import iso

if TYPE_CHECKING:
    from singer_sdk import Tap
    from singer_sdk.helpers import types

READ_BATCH = 1000
# Topics whose item (or its merged_from) is gone from Intercom.
DELETIONS = {"contact.deleted", "conversation.deleted"}
MERGE = "contact.merged"


def deleted_id(topic: str, item: dict[str, Any]) -> str | None:
    """The id a notification says is gone: the item, or the contact merged away."""
    if topic in DELETIONS:
        value = item.get("id")
    elif topic == MERGE:
        merged_from = item.get("merged_from")
        value = merged_from.get("id") if isinstance(merged_from, dict) else None
    else:
        return None
    return None if value is None else str(value)


def to_record(row: Stored) -> dict[str, Any]:
    """A stored notification as a ``webhook_events`` record."""
    n = row.notification
    try:
        doc = orjson.loads(n.body)
    except orjson.JSONDecodeError:
        doc = {}  # the receiver stores only parsed bodies; a hand-edited row keeps its columns
    data = doc.get("data") if isinstance(doc, dict) else None
    item = data.get("item") if isinstance(data, dict) else None
    item = item if isinstance(item, dict) else {}
    gone = deleted_id(n.topic, item)
    created = iso(n.created_at) if n.created_at is not None else None
    received = dt.datetime.fromtimestamp(n.received_at, dt.timezone.utc).isoformat()
    return {
        "seq": row.seq,
        "id": n.notification_id,
        "topic": n.topic,
        "app_id": n.app_id,
        "created_at": created,
        "delivery_attempts": n.delivery_attempts,
        "first_sent_at": iso(n.first_sent_at) if n.first_sent_at is not None else None,
        "received_at": received,
        "item_type": n.item_type,
        "item_id": n.item_id,
        "item": item,
        "deleted_id": gone,
        "_sdc_deleted_at": (created or received) if gone is not None else None,
    }


class WebhookEventsStream(Stream):
    """Notifications stored by intercom-webhooks, in the order they were stored."""

    name = "webhook_events"
    primary_keys: ClassVar[list[str]] = ["id"]  # type: ignore[misc]
    replication_key = "seq"
    is_sorted = True
    selected_by_default = False

    def __init__(self, tap: Tap) -> None:
        super().__init__(tap, schema=load_schema(self.name))

    def _bookmark(self, context: types.Context | None) -> int:
        """The last sequence number emitted by an earlier run (0: none). Read from the state
        itself: the SDK's starting value falls back on start_date, a date, not a number."""
        state = self.get_context_state(context)
        value = state.get("replication_key_value") if state.get("replication_key") == "seq" else 0
        try:
            return int(value or 0)
        except (TypeError, ValueError):
            raise ConfigError(
                "state", f"webhook_events: the bookmark {value!r} is not a sequence number"
            ) from None

    @override
    def get_records(self, context: types.Context | None) -> Iterable[dict[str, Any]]:
        location = self.config.get("webhook_store")
        if not location:
            self.logger.warning(
                "webhook_events is selected but webhook_store is not set: no records. Set "
                "webhook_store to the --store of intercom-webhooks (a SQLite file path or a "
                "postgresql:// URL), or deselect the stream."
            )
            return
        after = self._bookmark(context)
        try:
            store = open_store(location, create=False)
        except StoreError as e:
            raise ConfigError("webhook_store", f"webhook_store: {e}") from None
        with store:
            high = store.last_seq()  # this run's end: later notifications wait for the next
            while after < high:
                rows = store.read(after, READ_BATCH)
                if not rows:
                    break
                for row in rows:
                    if row.seq > high:
                        return
                    yield to_record(row)
                after = rows[-1].seq
