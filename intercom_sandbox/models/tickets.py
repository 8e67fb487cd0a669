"""TicketStore: tickets, their types, states and parts, and ticket search.

Shapes follow the 2.16 spec's ``ticket``, ``ticket_type``, ``ticket_state`` and
``ticket_part`` schemas and the examples of GET /tickets/{id} [S16:20386]. Search fields
and their types come from the POST /tickets/search description [S16:21090]: note that
``category`` is searched with the terms request / task / tracker, and the assignee ids are
strings there.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.search import ParsedSearch, SearchCache, SearchSpec, parse_search, run_search
from intercom_sandbox.search_spec import unsorted_options

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

CATEGORIES = ("Customer", "Back-office", "Tracker")
_CATEGORY_TERMS = {"Customer": "request", "Back-office": "task", "Tracker": "tracker"}
STATE_CATEGORIES = ("submitted", "in_progress", "waiting_on_customer", "resolved")
_STATE_LABELS = {
    "submitted": "Submitted",
    "in_progress": "In progress",
    "waiting_on_customer": "Waiting on customer",
    "resolved": "Resolved",
}
# Default ticket types of a workspace: (name, category, icon, description).
DEFAULT_TYPES = [
    ("Bug report", "Customer", "🐞", "Something in the product does not work"),
    ("Refund request", "Back-office", "💸", "A customer asks for money back"),
    ("Outage", "Tracker", "🚨", "An incident affecting many customers"),
]
_DATA_TYPES = {
    "string": "string",
    "integer": "integer",
    "decimal": "float",
    "boolean": "boolean",
    "datetime": "date",
    "list": "string",
}

_FIELDS = {
    "id": "string",
    "created_at": "date",
    "updated_at": "date",
    "title": "string",
    "description": "string",
    "category": "string",
    "ticket_type_id": "string",
    "contact_ids": "string",
    "teammate_ids": "string",
    "admin_assignee_id": "string",
    "team_assignee_id": "string",
    "open": "boolean",
    "state": "string",
    "snoozed_until": "date",
}
_ACCESSORS = {
    "title": lambda d: d["attributes"].get("_default_title_"),
    "description": lambda d: d["attributes"].get("_default_description_"),
    "category": lambda d: _CATEGORY_TERMS[d["category"]],
    "admin_assignee_id": lambda d: str(d["admin_assignee_id"]),
    "team_assignee_id": lambda d: str(d["team_assignee_id"]),
    "teammate_ids": lambda d: [str(d["admin_assignee_id"])] if d["admin_assignee_id"] else [],
}


class TicketStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.by_id: dict[str, dict[str, Any]] = {}
        self.types: dict[str, dict[str, Any]] = {}
        self.states: dict[str, dict[str, Any]] = {}  # state id -> state
        self._state_by_category: dict[str, str] = {}
        self._attr_types: dict[str, str] = {}  # ticket type attribute id -> search type
        self._attr_names: dict[str, str] = {}  # ticket type attribute id -> name
        self._ticket_seq = 0
        self._part_seq = 0
        self.version = 0
        self.search_cache = SearchCache()
        self.search_spec = SearchSpec(
            fields=_FIELDS,
            day_granular_dates=False,
            dates_inclusive=True,
            default_per_page=20,
            list_key="tickets",
            accessors=_ACCESSORS,
            resolve_field=self._resolve_field,
        )

    # -- types and states -------------------------------------------------------------------
    def ensure_defaults(self) -> None:
        """The workspace's ticket states and default ticket types, made once."""
        if self.states:
            return
        for category in STATE_CATEGORIES:
            sid = str(8500 + len(self.states))
            self.states[sid] = {
                "type": "ticket_state",
                "id": sid,
                "category": category,
                "internal_label": _STATE_LABELS[category],
                "external_label": _STATE_LABELS[category],
            }
            self._state_by_category[category] = sid
        for name, category, icon, description in DEFAULT_TYPES:
            self.create_type(name=name, category=category, icon=icon, description=description)

    def create_type(
        self, *, name: str, category: str, icon: str = "🎟️", description: str = ""
    ) -> dict[str, Any]:
        if category not in CATEGORIES:
            raise exc.ParameterInvalid(f"category must be one of {', '.join(CATEGORIES)}")
        now = self.backend.now()
        type_id = str(100 + len(self.types))
        attributes = []
        for order, (attr_name, dtype) in enumerate(
            [("_default_title_", "string"), ("_default_description_", "string")]
        ):
            attr_id = str(200 + len(self._attr_names))
            self._attr_names[attr_id] = attr_name
            self._attr_types[attr_id] = _DATA_TYPES[dtype]
            attributes.append(
                {
                    "type": "ticket_type_attribute",
                    "id": attr_id,
                    "workspace_id": self.backend.workspace_id,
                    "name": attr_name,
                    "description": attr_name.strip("_").replace("_", " "),
                    "data_type": dtype,
                    "input_options": None,
                    "order": order,
                    "required_to_create": order == 0,
                    "required_to_create_for_contacts": False,
                    "visible_on_create": True,
                    "visible_to_contacts": True,
                    "default": True,
                    "ticket_type_id": int(type_id),
                    "archived": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        ttype = {
            "type": "ticket_type",
            "id": type_id,
            "name": name,
            "description": description,
            "icon": icon,
            "workspace_id": self.backend.workspace_id,
            "archived": False,
            "created_at": now,
            "updated_at": now,
            "is_internal": category != "Customer",
            "ticket_type_attributes": {"type": "list", "data": attributes},
            "category": category,
        }
        self.types[type_id] = ttype
        return ttype

    def _resolve_field(self, name: str) -> str | None:
        """``ticket_attribute.{id}``: typed by the ticket type attribute [S16:21090]."""
        if name.startswith("ticket_attribute."):
            return self._attr_types.get(name.split(".", 1)[1])
        return None

    def _get(self, doc: dict[str, Any], name: str) -> Any:
        if name.startswith("ticket_attribute."):
            attr_name = self._attr_names.get(name.split(".", 1)[1])
            return None if attr_name is None else doc["attributes"].get(attr_name)
        return doc.get(name)

    # -- reads ------------------------------------------------------------------------------
    def get(self, ticket_id: str) -> dict[str, Any] | None:
        return self.by_id.get(ticket_id)

    def require(self, ticket_id: str) -> dict[str, Any]:
        ticket = self.by_id.get(ticket_id)
        if ticket is None:
            raise exc.NotFound()
        return ticket

    def all_live(self) -> Iterable[dict[str, Any]]:
        return self.by_id.values()

    # -- writes -----------------------------------------------------------------------------
    def create(
        self,
        *,
        ticket_type_id: str,
        contact_ids: list[str],
        title: str,
        description: str | None = None,
        author: dict[str, Any] | None = None,
        created_at: int | None = None,
        admin_assignee_id: str | None = None,
        team_assignee_id: str | None = None,
    ) -> dict[str, Any]:
        """A submitted ticket of ``ticket_type_id`` for ``contact_ids``."""
        self.ensure_defaults()
        ttype = self.types.get(ticket_type_id)
        if ttype is None:
            raise exc.NotFound("Ticket type not found")
        for cid in contact_ids:
            if self.backend.contacts.get(cid) is None:
                raise exc.UserNotFound()
        ts = self.backend.now() if created_at is None else created_at
        self._ticket_seq += 1
        ticket: dict[str, Any] = {
            "id": self.backend.new_numeric_id(),
            "ticket_id": str(self._ticket_seq),
            "ticket_type_id": ticket_type_id,
            "category": ttype["category"],
            "attributes": {"_default_title_": title, "_default_description_": description},
            "state": "submitted",
            "previous_state_id": None,
            "contact_ids": list(contact_ids),
            "admin_assignee_id": int(admin_assignee_id) if admin_assignee_id else 0,
            "team_assignee_id": int(team_assignee_id) if team_assignee_id else 0,
            "created_at": ts,
            "updated_at": ts,
            "open": True,
            "snoozed_until": None,
            "is_shared": ttype["category"] == "Customer",
            "parts": [],
        }
        self.by_id[ticket["id"]] = ticket
        self.version += 1
        if author is not None:
            self._add_part(ticket, "ticket_state_updated_by_admin", author, ts, None)
        return ticket

    def _add_part(
        self,
        ticket: dict[str, Any],
        part_type: str,
        author: dict[str, Any],
        ts: int,
        body: str | None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        self._part_seq += 1
        part = {
            "id": str(self._part_seq),
            "part_type": part_type,
            "body": body,
            "previous_ticket_state": previous or ticket["state"],
            "ticket_state": ticket["state"],
            "created_at": ts,
            "author": author,
        }
        ticket["parts"].append(part)
        if ts > ticket["updated_at"]:
            ticket["updated_at"] = ts
        self.version += 1
        return part

    def comment(
        self, ticket: dict[str, Any], author: dict[str, Any], body: str, *, at: int | None = None
    ) -> dict[str, Any]:
        ts = self.backend.now() if at is None else at
        return self._add_part(ticket, "comment", author, ts, body)

    def change_state(
        self,
        ticket: dict[str, Any],
        state: str,
        admin_author: dict[str, Any],
        *,
        at: int | None = None,
    ) -> dict[str, Any]:
        if state not in STATE_CATEGORIES:
            raise exc.ParameterInvalid(f"state must be one of {', '.join(STATE_CATEGORIES)}")
        self.ensure_defaults()
        ts = self.backend.now() if at is None else at
        previous = ticket["state"]
        ticket["previous_state_id"] = self._state_by_category[previous]
        ticket["state"] = state
        ticket["open"] = state != "resolved"
        return self._add_part(
            ticket, "ticket_state_updated_by_admin", admin_author, ts, None, previous
        )

    # -- rendering --------------------------------------------------------------------------
    def render(self, ticket: dict[str, Any]) -> dict[str, Any]:
        """The spec's ``ticket`` object, with its parts."""
        contacts = self.backend.contacts
        refs = []
        for cid in ticket["contact_ids"]:
            contact = contacts.get(cid)
            refs.append(
                contacts.reference(contact)
                if contact is not None
                else {"type": "contact", "id": cid, "external_id": None}
            )
        out: dict[str, Any] = {
            "type": "ticket",
            "id": ticket["id"],
            "ticket_id": ticket["ticket_id"],
            "category": ticket["category"],
            "ticket_attributes": dict(ticket["attributes"]),
            "ticket_state": dict(self.states[self._state_by_category[ticket["state"]]]),
            "ticket_type": self.types[ticket["ticket_type_id"]],
            "contacts": {"type": "contact.list", "contacts": refs},
            "admin_assignee_id": ticket["admin_assignee_id"],
            "team_assignee_id": ticket["team_assignee_id"],
            "created_at": ticket["created_at"],
            "updated_at": ticket["updated_at"],
            "open": ticket["open"],
            "ticket_parts": {
                "type": "ticket_part.list",
                "ticket_parts": [self._render_part(p) for p in ticket["parts"]],
                "total_count": len(ticket["parts"]),
            },
            "linked_objects": {"type": "list", "data": [], "total_count": 0, "has_more": False},
            "is_shared": ticket["is_shared"],
            "previous_ticket_state_id": ticket["previous_state_id"],
        }
        if ticket["snoozed_until"] is not None:
            out["snoozed_until"] = ticket["snoozed_until"]
        return out

    @staticmethod
    def _render_part(part: dict[str, Any]) -> dict[str, Any]:
        a = part["author"]
        # ticket_part_author.type is admin | bot | team | user: a lead writes as "user".
        author: dict[str, Any] = {
            "id": a["id"],
            "type": "admin" if a["type"] == "admin" else "user",
            "name": a.get("name"),
        }
        if a.get("email"):
            author["email"] = a["email"]
        out: dict[str, Any] = {
            "type": "ticket_part",
            "id": part["id"],
            "part_type": part["part_type"],
            "previous_ticket_state": part["previous_ticket_state"],
            "ticket_state": part["ticket_state"],
            "created_at": part["created_at"],
            "updated_at": part["created_at"],
            "author": author,
            "attachments": [],
            "redacted": False,
        }
        if part["body"] is not None:
            out["body"] = part["body"]
        return out

    # -- search -----------------------------------------------------------------------------
    def search(
        self, body: dict[str, Any]
    ) -> tuple[ParsedSearch, list[dict[str, Any]], int, str | None]:
        options = None  # the conversation_order switch covers tickets too (settings.py)
        if self.backend.settings.conversation_order == "unsorted":
            options = unsorted_options(self.backend.random_seed)
        parsed = parse_search(body, self.search_spec, get=self._get, options=options)
        page, total, nxt = run_search(
            parsed,
            self.by_id.values(),
            self.search_spec,
            get=self._get,
            cache=self.search_cache,
            cache_key=self.version,
        )
        return parsed, page, total, nxt

    # -- control ----------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {"tickets": [self.render(t) for t in self.by_id.values()]}
