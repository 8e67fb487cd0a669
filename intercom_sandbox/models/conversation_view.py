"""How conversations look from outside: the spec's ``conversation`` object, its parts,
``display_as=plaintext``, and the search fields (FACTS.md §3, [S16:10956, 11581]).

Kept apart from ``ConversationStore`` (state and rules) so each file reads as one job.
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING, Any

from intercom_sandbox.search import SearchSpec

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

MAX_PARTS_SHOWN = 500  # "the 500 most recent are returned" [S16:10956]

_STAT_INTS = [
    "time_to_assignment",
    "time_to_admin_reply",
    "time_to_first_close",
    "time_to_last_close",
    "median_time_to_reply",
    "count_reopens",
    "count_assignments",
    "count_conversation_parts",
]
_STAT_DATES = [
    "first_contact_reply_at",
    "first_assignment_at",
    "first_admin_reply_at",
    "first_close_at",
    "last_assignment_at",
    "last_assignment_admin_reply_at",
    "last_contact_reply_at",
    "last_admin_reply_at",
    "last_close_at",
]

# Searchable fields and their types (FACTS.md §3, [S16:11581]).
_FIELDS: dict[str, str] = {
    "id": "string",
    "created_at": "date",
    "updated_at": "date",
    "source.type": "string",
    "source.id": "string",
    "source.delivered_as": "string",
    "source.subject": "string",
    "source.body": "text",  # token match: = "support" finds "I need support"
    "source.author.id": "string",
    "source.author.type": "string",
    "source.author.name": "string",
    "source.author.email": "string",
    "source.url": "string",
    "contact_ids": "string",
    "teammate_ids": "string",
    "admin_assignee_id": "integer",
    "team_assignee_id": "integer",
    "channel_initiated": "string",
    "open": "boolean",
    "read": "boolean",
    "state": "string",
    "waiting_since": "date",
    "snoozed_until": "date",
    "tag_ids": "string",
    "priority": "string",
    "statistics.last_closed_by_id": "string",
    "conversation_rating.requested_at": "date",
    "conversation_rating.replied_at": "date",
    "conversation_rating.score": "integer",
    "conversation_rating.remark": "string",
    "conversation_rating.contact_id": "string",
    "conversation_rating.admin_d": "string",  # sic, as documented
    "ai_agent_participated": "boolean",
    "ai_agent.resolution_state": "string",
    "ai_agent.last_answer_type": "string",
    "ai_agent.rating": "integer",
    "ai_agent.rating_remark": "string",
    "ai_agent.source_type": "string",
    "ai_agent.source_title": "string",
}
_FIELDS.update({f"statistics.{k}": "integer" for k in _STAT_INTS})
_FIELDS.update({f"statistics.{k}": "date" for k in _STAT_DATES})


def _rating_get(key: str) -> Any:
    return lambda d: (d["rating"] or {}).get(key)


_ACCESSORS = {
    "tag_ids": lambda d: [t["id"] for t in d["tags"]],
    "channel_initiated": lambda d: d["channel"],
    "open": lambda d: d["state"] != "closed",
    "conversation_rating.requested_at": _rating_get("requested_at"),
    "conversation_rating.replied_at": _rating_get("created_at"),
    "conversation_rating.score": _rating_get("rating"),
    "conversation_rating.remark": _rating_get("remark"),
    "conversation_rating.contact_id": _rating_get("contact_id"),
    "conversation_rating.admin_d": _rating_get("teammate_id"),
    "ai_agent.resolution_state": lambda d: None,
    "ai_agent.last_answer_type": lambda d: None,
    "ai_agent.rating": lambda d: None,
    "ai_agent.rating_remark": lambda d: None,
    "ai_agent.source_type": lambda d: None,
    "ai_agent.source_title": lambda d: None,
}


def _resolve(name: str) -> str | None:
    return "string" if name.startswith("custom_attributes.") and len(name) > 18 else None


CONVERSATION_SEARCH = SearchSpec(
    fields=_FIELDS,
    day_granular_dates=False,  # conversation search is second-precise (FACTS.md §3)
    dates_inclusive=True,  # > and < are documented as "or equal"
    default_per_page=20,
    list_key="conversations",
    accessors=_ACCESSORS,
    resolve_field=_resolve,
)

_TAG_RE = re.compile(r"<[^>]+>")
_LINK_RE = re.compile(r"<a\s[^>]*href=[\"']([^\"']*)[\"'][^>]*>(.*?)</a>", re.I | re.S)
_BREAK_RE = re.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", re.I)


def to_plaintext(text: str | None) -> str | None:
    """``display_as=plaintext``: tags dropped, links as ``label (url)`` [S16:10956]."""
    if not text:
        return text
    out = _LINK_RE.sub(lambda m: f"{m.group(2)} ({m.group(1)})", text)
    out = _BREAK_RE.sub("\n", out)
    return html.unescape(_TAG_RE.sub("", out)).strip()


def get_field(doc: dict[str, Any], name: str) -> Any:
    """Dotted lookup into a conversation record (custom_attributes.x, source.author.id...)."""
    cur: Any = doc
    for part in name.split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def contact_refs(backend: Backend, conv: dict[str, Any]) -> list[dict[str, Any]]:
    contacts = backend.contacts
    out = []
    for cid in conv["contact_ids"]:
        contact = contacts.get(cid)
        if contact is not None:
            out.append(contacts.reference(contact))
        else:  # the contact was deleted since: keep a bare reference to it
            out.append({"type": "contact", "id": cid, "external_id": None})
    return out


def _tags(backend: Backend, conv: dict[str, Any]) -> list[dict[str, Any]]:
    get_tag = backend.workspace.get_tag
    out = []
    for t in conv["tags"]:
        tag = get_tag(t["id"])
        if tag is not None:
            out.append(
                {
                    "type": "tag",
                    "id": tag["id"],
                    "name": tag["name"],
                    "applied_at": t["applied_at"],
                    "applied_by": dict(t["applied_by"]),
                }
            )
    return out


def _rating(backend: Backend, conv: dict[str, Any]) -> dict[str, Any] | None:
    r = conv["rating"]
    if r is None:
        return None
    contacts = backend.contacts
    contact = contacts.get(r["contact_id"])
    out: dict[str, Any] = {
        "rating": r["rating"],
        "created_at": r["created_at"],
        "updated_at": r["created_at"],
        "contact": (
            contacts.reference(contact)
            if contact is not None
            else {"type": "contact", "id": r["contact_id"], "external_id": None}
        ),
        "teammate": {"type": "admin", "id": r["teammate_id"]} if r["teammate_id"] else None,
    }
    if out["teammate"] is None:
        del out["teammate"]
    if r["remark"] is not None:
        out["remark"] = r["remark"]
    return out


def render_conversation(
    backend: Backend, conv: dict[str, Any], *, parts: bool = False, plaintext: bool = False
) -> dict[str, Any]:
    """The spec's ``conversation`` (with ``conversation_parts`` when ``parts``)."""
    src = conv["source"]
    source = {
        "type": src["type"],
        "id": src["id"],
        "delivered_as": src["delivered_as"],
        "subject": to_plaintext(src["subject"]) if plaintext else src["subject"],
        "body": to_plaintext(src["body"]) if plaintext else src["body"],
        "author": dict(src["author"]),
        "attachments": [],
        "url": src["url"],
        "redacted": False,
    }
    stats = conv["statistics"]
    teammates = conv["teammate_ids"]
    out: dict[str, Any] = {
        "type": "conversation",
        "id": conv["id"],
        "created_at": conv["created_at"],
        "updated_at": conv["updated_at"],
        "waiting_since": conv["waiting_since"],
        "snoozed_until": conv["snoozed_until"],
        "source": source,
        "contacts": {"type": "contact.list", "contacts": contact_refs(backend, conv)},
        "first_contact_reply": (
            dict(conv["first_contact_reply"]) if conv["first_contact_reply"] else None
        ),
        "admin_assignee_id": conv["admin_assignee_id"],
        "team_assignee_id": conv["team_assignee_id"],
        "open": conv["state"] != "closed",
        "state": conv["state"],
        "read": conv["read"],
        "tags": {"type": "tag.list", "tags": _tags(backend, conv)},
        "priority": conv["priority"],
        "sla_applied": None,
        "statistics": {"type": "conversation_statistics", **stats},
        "conversation_rating": _rating(backend, conv),
        "teammates": {
            "type": "admin.list",
            "teammates": [{"type": "admin", "id": a} for a in teammates],
        },
        "title": conv["title"],
        "custom_attributes": dict(conv["custom_attributes"]),
        "topics": {},
        "ticket": None,
        "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
        # ai_agent / sales_agent / company are `$ref` + nullable: left out when unset.
        "ai_agent_participated": conv["ai_agent_participated"],
        "sales_agent_participated": False,
        "channel": {"initial": conv["channel"], "current": conv["channel"]},
        "external_references": [],
    }
    if parts:
        out["conversation_parts"] = render_parts(conv, plaintext=plaintext)
    return out


def render_parts(conv: dict[str, Any], *, plaintext: bool = False) -> dict[str, Any]:
    """At most the 500 most recent parts, oldest first; total_count counts all."""
    all_parts = conv["parts"]
    # A part's `state` is the conversation's state once that part applied.
    state = "open"
    states: list[str] = []
    for p in all_parts:
        kind = p["part_type"]
        if kind == "close":
            state = "closed"
        elif kind in ("open", "unsnoozed") or (
            kind == "comment" and p["author"]["type"] != "admin" and state != "open"
        ):
            state = "open"
        elif kind == "snoozed":
            state = "snoozed"
        states.append(state)
    start = max(0, len(all_parts) - MAX_PARTS_SHOWN)
    rendered = [
        _render_part(all_parts[i], states[i], plaintext) for i in range(start, len(all_parts))
    ]
    return {
        "type": "conversation_part.list",
        "conversation_parts": rendered,
        "total_count": len(all_parts),
    }


def _render_part(part: dict[str, Any], state: str, plaintext: bool) -> dict[str, Any]:
    a = part["author"]
    author: dict[str, Any] = {"type": a["type"], "id": a["id"], "name": a["name"]}
    if a.get("email"):
        author["email"] = a["email"]
    author["from_ai_agent"] = False
    author["is_ai_answer"] = False
    ts = part["created_at"]
    body = part["body"]
    out: dict[str, Any] = {
        "type": "conversation_part",
        "id": part["id"],
        "part_type": part["part_type"],
        "body": to_plaintext(body) if plaintext else body,
        "created_at": ts,
        "updated_at": ts,
        "notified_at": ts,
        "author": author,
        "attachments": [],
        "external_id": None,
        "redacted": False,
        "state": state,
        "tags": [],
        "app_package_code": None,
    }
    # `assigned_to`, `email_message_metadata`, `metadata`, `event_details` are `$ref`s: the
    # `nullable` beside a $ref does not count in OpenAPI 3.0, so they are left out, not null.
    if "assigned_to" in part:
        out["assigned_to"] = dict(part["assigned_to"])
    return out
