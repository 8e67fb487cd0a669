"""Data events: POST /events (202, de-duplicated, 10 metadata keys) and GET /events.

Rules from FACTS.md §4 and [S16:16059]: "Each event is uniquely identified as a combination
of ... the Workspace identifier, the Contact external identifier, the Data Event name and the
Data Event created time", and a duplicate is silently accepted (202). Read literally: the key
is the *contact's* external id, whichever identifier (user_id, id or email) the request
named it by; an event of a contact without an external id has no such key and is never
de-duplicated. Only the first 10 metadata keys are kept; an unknown user is a 404; only
events less than 90 days old can be listed.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from intercom_sandbox import exceptions as exc

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

MAX_METADATA_KEYS = 10
LIST_WINDOW_SECONDS = 90 * 86_400
DEFAULT_PER_PAGE = 50
MAX_PER_PAGE = 100


class Events:
    """Events per contact id, newest last, with the de-duplication keys (one workspace per
    backend: the key's workspace part is implied)."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.by_contact: dict[str, list[dict[str, Any]]] = {}
        self._keys: set[tuple[str, str, int]] = set()  # (external id, name, created_at)
        self._next = 1

    # -- contacts -------------------------------------------------------------------------
    def _contact_by(self, field: str, value: str) -> dict[str, Any] | None:
        """The live user whose ``external_id`` / ``email`` (any case) equals ``value``."""
        contacts = self.backend.contacts
        if field == "external_id" and hasattr(contacts, "find_user_by_external_id"):
            try:
                return contacts.find_user_by_external_id(value)
            except exc.IntercomError:  # 404, or 410 for a merged-away user
                return None
        finder = getattr(contacts, f"find_user_by_{field}", None)
        if finder is not None:
            return finder(value)
        wanted = value.lower() if field == "email" else value
        for c in contacts.all_live():
            v = c.get(field)
            if c.get("role") != "user" or v is None:
                continue
            if (v.lower() if field == "email" else v) == wanted:
                return c
        return None

    def resolve_contact(self, body: dict[str, Any]) -> dict[str, Any]:
        """The contact an event names by ``id`` | ``user_id`` | ``email``; 404 if none."""
        contact = None
        if body.get("id") is not None:
            contact = self.backend.contacts.get(str(body["id"]))
        elif body.get("user_id") is not None:
            contact = self._contact_by("external_id", str(body["user_id"]))
        elif body.get("email") is not None:
            # Lead events must name the lead's id [S16:16059]: email and user_id find users.
            contact = self._contact_by("email", str(body["email"]))
        else:
            raise exc.ParameterMissing(
                "An event needs one of id, user_id or email to identify the contact"
            )
        if contact is None:
            raise exc.UserNotFound()
        return contact

    # -- writes -----------------------------------------------------------------------------
    def create(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Store one event; None when it duplicates an earlier one (still a 202)."""
        name = body.get("event_name")
        if not isinstance(name, str) or not name.strip():
            raise exc.ParameterMissing("event_name is required", field="event_name")
        created_at = body.get("created_at")
        if isinstance(created_at, bool) or not isinstance(created_at, int):
            raise exc.ParameterInvalid(
                "created_at is required and must be a Unix timestamp (integer seconds)",
                field="created_at",
            )
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise exc.ParameterInvalid("metadata must be an object", field="metadata")
        contact = self.resolve_contact(body)
        external_id = contact.get("external_id")
        if external_id:
            key = (str(external_id), name, created_at)
            if key in self._keys:
                return None
            self._keys.add(key)
        # Only the first 10 keys, in the order sent, are tracked [S16:16059].
        kept = dict(list(metadata.items())[:MAX_METADATA_KEYS])
        event = {
            "id": str(uuid.UUID(int=(0x5B0 << 116) | self._next)),
            "event_name": name,
            "created_at": created_at,
            "metadata": kept,
            "_contact_id": contact["id"],
        }
        self._next += 1
        self.by_contact.setdefault(contact["id"], []).append(event)
        return event

    # -- reads ------------------------------------------------------------------------------
    def list_for(self, query: dict[str, str], base_url: str) -> dict[str, Any]:
        """GET /events: ``type=user`` plus one of user_id | email | intercom_user_id."""
        if query.get("type") != "user":
            raise exc.ParameterInvalid("type must be 'user'", field="type")
        if query.get("intercom_user_id"):
            contact = self.backend.contacts.get(query["intercom_user_id"])
        elif query.get("user_id"):
            contact = self._contact_by("external_id", query["user_id"])
        elif query.get("email"):
            contact = self._contact_by("email", query["email"])
        else:
            raise exc.ParameterMissing(
                "One of user_id, email or intercom_user_id is required", field="user_id"
            )
        if contact is None:
            raise exc.UserNotFound()
        events = self.by_contact.get(contact["id"], [])
        ident = {
            "email": contact.get("email"),
            "intercom_user_id": contact["id"],
            "user_id": contact.get("external_id"),
        }
        ident = {k: v for k, v in ident.items() if v is not None}
        if str(query.get("summary", "")).lower() == "true":
            return {"type": "event.summary", **ident, "events": _summaries(events)}

        now = self.backend.now()
        visible = [e for e in events if e["created_at"] > now - LIST_WINDOW_SECONDS]
        visible.sort(key=lambda e: e["created_at"], reverse=True)
        try:
            per_page = min(int(query.get("per_page") or DEFAULT_PER_PAGE), MAX_PER_PAGE)
            before = int(query["before"]) if query.get("before") else None
        except ValueError as e:
            raise exc.ParameterInvalid("per_page and before must be integers") from e
        if per_page < 1:
            raise exc.ParameterInvalid("per_page must be at least 1", field="per_page")
        if before is not None:
            visible = [e for e in visible if e["created_at"] < before]
        page = visible[:per_page]
        out: dict[str, Any] = {
            "type": "event.list",
            "events": [self.render(e, ident) for e in page],
            "pages": {},
        }
        if len(visible) > per_page:
            params = {k: v for k, v in query.items() if k not in ("before", "per_page")}
            params.update(per_page=str(per_page), before=str(page[-1]["created_at"]))
            out["pages"] = {"next": f"{base_url}/events?{urlencode(params)}"}
        return out

    @staticmethod
    def render(event: dict[str, Any], ident: dict[str, str]) -> dict[str, Any]:
        return {
            "type": "event",
            "id": event["id"],
            "created_at": event["created_at"],
            "event_name": event["event_name"],
            **ident,
            "metadata": event["metadata"],
        }

    def dump(self) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in e.items() if k != "_contact_id"} | {"contact_id": cid}
            for cid, events in self.by_contact.items()
            for e in events
        ]


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _summaries(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per event name: first and last occurrence (ISO 8601) and count, all ages included."""
    by_name: dict[str, list[int]] = {}
    for e in events:
        by_name.setdefault(e["event_name"], []).append(e["created_at"])
    return [
        {"name": name, "first": _iso(min(ts)), "last": _iso(max(ts)), "count": len(ts)}
        for name, ts in sorted(by_name.items())
    ]
