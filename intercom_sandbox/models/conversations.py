"""ConversationStore: conversations, their parts, deletions and search (FACTS.md §3).

Records are compact dicts; the spec's ``conversation`` object is built on demand by
``render``. Parts keep only what varies (id, part_type, body, created_at, author, and
``assigned_to`` / ``snoozed_until`` when set); authors are shared dicts. Statistics are
kept up to date as parts arrive, so rendering a list page never walks parts.

``TicketStore`` lives in ``models/tickets.py`` and is re-exported here for the backend.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.cursors import decode_cursor_payload, encode_cursor, invalid_cursor
from intercom_sandbox.models.conversation_view import (
    CONVERSATION_SEARCH,
    get_field,
    render_conversation,
    to_plaintext,
)
from intercom_sandbox.models.tickets import TicketStore
from intercom_sandbox.search import (
    ParsedSearch,
    SearchCache,
    parse_search,
    run_search,
)
from intercom_sandbox.search_spec import unsorted_options

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

__all__ = ["CONVERSATION_SEARCH", "ConversationStore", "TicketStore", "to_plaintext"]

SOURCE_ID_BASE = 400_000_000
STATES = ("open", "closed", "snoozed")
PRIORITIES = ("none", "low", "medium", "high", "urgent")


class ConversationStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.by_id: dict[str, dict[str, Any]] = {}
        self.deleted: list[dict[str, Any]] = []
        self._part_seq = 0
        self._source_seq = SOURCE_ID_BASE
        self._authors: dict[tuple[str, str], dict[str, Any]] = {}
        self.version = 0  # bumped by every write: keys the search cache and the list order
        self.search_cache = SearchCache()
        self._order: tuple[int, list[tuple[int, int]], list[dict[str, Any]]] | None = None

    # -- authors ----------------------------------------------------------------------------
    def author_for_contact(self, contact: dict[str, Any]) -> dict[str, Any]:
        """A contact as an author: ``{type: user|lead, id, name, email}`` (shared dict)."""
        key = ("contact", contact["id"])
        author = self._authors.get(key)
        if author is None:
            author = {
                "type": contact.get("role") or "user",
                "id": contact["id"],
                "name": contact.get("name"),
                "email": contact.get("email"),
            }
            self._authors[key] = author
        return author

    def author_for_admin(self, admin: dict[str, Any]) -> dict[str, Any]:
        key = ("admin", admin["id"])
        author = self._authors.get(key)
        if author is None:
            author = self.backend.workspace.admin_reference(admin)
            self._authors[key] = author
        return author

    # -- reads ------------------------------------------------------------------------------
    def get(self, conversation_id: str) -> dict[str, Any] | None:
        return self.by_id.get(conversation_id)

    def require(self, conversation_id: str) -> dict[str, Any]:
        conv = self.by_id.get(conversation_id)
        if conv is None:
            raise exc.NotFound()
        return conv

    def all_live(self) -> Iterable[dict[str, Any]]:
        return self.by_id.values()

    # -- writes -----------------------------------------------------------------------------
    def _touch(self, conv: dict[str, Any], ts: int) -> None:
        if ts > conv["updated_at"]:
            conv["updated_at"] = ts
        self.version += 1

    def create(
        self,
        *,
        author: dict[str, Any],
        contact_ids: list[str],
        body: str,
        subject: str = "",
        source_type: str = "conversation",
        delivered_as: str | None = None,
        created_at: int | None = None,
        title: str | None = None,
        priority: str = "none",
        custom_attributes: dict[str, Any] | None = None,
        url: str | None = None,
        read: bool = False,
    ) -> dict[str, Any]:
        """A new open conversation whose first message (the ``source``) is by ``author``."""
        if priority not in PRIORITIES:
            raise exc.ParameterInvalid(f"priority must be one of {', '.join(PRIORITIES)}")
        for cid in contact_ids:
            if self.backend.contacts.get(cid) is None:
                raise exc.UserNotFound()
        ts = self.backend.now() if created_at is None else created_at
        from_contact = author["type"] in ("user", "lead", "contact")
        if delivered_as is None:
            delivered_as = "customer_initiated" if from_contact else "admin_initiated"
        self._source_seq += 1
        conv: dict[str, Any] = {
            "id": self.backend.new_numeric_id(),
            "created_at": ts,
            "updated_at": ts,
            "title": title,
            "state": "open",
            "read": read,
            "priority": priority,
            "waiting_since": ts if from_contact else None,
            "snoozed_until": None,
            "admin_assignee_id": 0,
            "team_assignee_id": 0,
            "tags": [],
            "source": {
                "type": source_type,
                "id": str(self._source_seq),
                "delivered_as": delivered_as,
                "subject": subject,
                "body": body,
                "author": author,
                "url": url,
            },
            "contact_ids": list(contact_ids),
            "teammate_ids": [] if from_contact else [author["id"]],
            "custom_attributes": dict(custom_attributes or {}),
            "rating": None,
            "first_contact_reply": (
                {"created_at": ts, "type": source_type, "url": url} if from_contact else None
            ),
            "statistics": {"count_conversation_parts": 0},
            "parts": [],
            "ai_agent_participated": False,
            "channel": source_type,
        }
        if from_contact:
            conv["statistics"]["first_contact_reply_at"] = ts
            conv["statistics"]["last_contact_reply_at"] = ts
        self.by_id[conv["id"]] = conv
        self.version += 1
        self.backend.emit(
            "conversation.user.created" if from_contact else "conversation.admin.single.created",
            conv,
        )
        return conv

    def add_part(
        self,
        conv: dict[str, Any],
        *,
        part_type: str,
        author: dict[str, Any],
        body: str | None = None,
        created_at: int | None = None,
        assigned_to: dict[str, Any] | None = None,
        snoozed_until: int | None = None,
    ) -> dict[str, Any]:
        """Append a part (comment, note, assignment, close, open, snoozed...) and apply it.

        The conversation's ``updated_at`` moves to the part's time, its state and
        statistics follow the part (FACTS.md §3).
        """
        ts = self.backend.now() if created_at is None else created_at
        self._part_seq += 1
        part: dict[str, Any] = {
            "id": str(self._part_seq),
            "part_type": part_type,
            "body": body,
            "created_at": ts,
            "author": author,
        }
        if assigned_to is not None:
            part["assigned_to"] = assigned_to
        if snoozed_until is not None:
            part["snoozed_until"] = snoozed_until
        conv["parts"].append(part)
        self._apply(conv, part)
        self._touch(conv, ts)
        return part

    def _apply(self, conv: dict[str, Any], part: dict[str, Any]) -> None:
        stats = conv["statistics"]
        stats["count_conversation_parts"] += 1
        ts = part["created_at"]
        kind = part["part_type"]
        author = part["author"]
        by_admin = author["type"] == "admin"
        if by_admin and author["id"] not in conv["teammate_ids"]:
            conv["teammate_ids"].append(author["id"])
        if kind == "comment":
            if by_admin:
                if "first_admin_reply_at" not in stats:
                    stats["first_admin_reply_at"] = ts
                    stats["time_to_admin_reply"] = ts - conv["created_at"]
                stats["last_admin_reply_at"] = ts
                if "last_assignment_at" in stats:
                    stats["last_assignment_admin_reply_at"] = ts
                conv["waiting_since"] = None
                conv["read"] = True
            else:
                stats.setdefault("first_contact_reply_at", ts)
                stats["last_contact_reply_at"] = ts
                if conv["first_contact_reply"] is None:
                    conv["first_contact_reply"] = {
                        "created_at": ts,
                        "type": conv["source"]["type"],
                        "url": conv["source"]["url"],
                    }
                if conv["waiting_since"] is None:
                    conv["waiting_since"] = ts
                conv["read"] = False
                if conv["state"] != "open":
                    self._reopen(conv, stats)
        elif kind == "assignment":
            target = part.get("assigned_to") or {}
            if target.get("type") == "team":
                conv["team_assignee_id"] = int(target["id"])
            elif target.get("type") == "admin":
                conv["admin_assignee_id"] = int(target["id"])
            stats["count_assignments"] = stats.get("count_assignments", 0) + 1
            if "first_assignment_at" not in stats:
                stats["first_assignment_at"] = ts
                stats["time_to_assignment"] = ts - conv["created_at"]
            stats["last_assignment_at"] = ts
        elif kind == "close":
            conv["state"] = "closed"
            conv["waiting_since"] = None
            conv["snoozed_until"] = None
            if "first_close_at" not in stats:
                stats["first_close_at"] = ts
                stats["time_to_first_close"] = ts - conv["created_at"]
            stats["last_close_at"] = ts
            stats["time_to_last_close"] = ts - conv["created_at"]
            stats["last_closed_by_id"] = author["id"]
        elif kind == "open":
            self._reopen(conv, stats)
        elif kind == "snoozed":
            conv["state"] = "snoozed"
            conv["snoozed_until"] = part.get("snoozed_until")
        elif kind == "unsnoozed":
            conv["state"] = "open"
            conv["snoozed_until"] = None

    @staticmethod
    def _reopen(conv: dict[str, Any], stats: dict[str, Any]) -> None:
        if conv["state"] == "closed":
            stats["count_reopens"] = stats.get("count_reopens", 0) + 1
        conv["state"] = "open"
        conv["snoozed_until"] = None

    def assign(
        self,
        conv: dict[str, Any],
        admin: dict[str, Any],
        *,
        by: dict[str, Any] | None = None,
        created_at: int | None = None,
    ) -> dict[str, Any]:
        author = by or self.author_for_admin(admin)
        return self.add_part(
            conv,
            part_type="assignment",
            author=author,
            assigned_to={"type": "admin", "id": admin["id"]},
            created_at=created_at,
        )

    def assign_team(self, conv: dict[str, Any], team_id: str) -> None:
        conv["team_assignee_id"] = int(team_id)
        self.version += 1

    def tag(
        self, conv: dict[str, Any], tag_id: str, admin_id: str, *, at: int | None = None
    ) -> None:
        if any(t["id"] == tag_id for t in conv["tags"]):
            return
        ts = self.backend.now() if at is None else at
        conv["tags"].append(
            {"id": tag_id, "applied_at": ts, "applied_by": {"type": "admin", "id": admin_id}}
        )
        self._touch(conv, ts)

    def rate(
        self,
        conv: dict[str, Any],
        *,
        rating: int,
        remark: str | None,
        contact_id: str,
        teammate_id: str | None,
        at: int | None = None,
    ) -> None:
        ts = self.backend.now() if at is None else at
        conv["rating"] = {
            "rating": rating,
            "remark": remark,
            "created_at": ts,
            "requested_at": ts,
            "contact_id": contact_id,
            "teammate_id": teammate_id,
        }
        self._touch(conv, ts)

    def delete(self, conversation_id: str, *, retain_metrics: bool = True) -> dict[str, Any]:
        """DELETE /conversations/{id}: gone from list, search and GET; listed as deleted."""
        conv = self.require(conversation_id)
        del self.by_id[conversation_id]
        entry = {
            "id": conv["id"],
            "metrics_retained": retain_metrics,
            "deleted_at": self.backend.now(),
        }
        self.deleted.append(entry)
        self.version += 1
        self.backend.emit("conversation.deleted", conv)
        return entry

    # -- rendering --------------------------------------------------------------------------
    def render(
        self, conv: dict[str, Any], *, parts: bool = False, plaintext: bool = False
    ) -> dict[str, Any]:
        """The spec's ``conversation`` (with ``conversation_parts`` when ``parts``)."""
        return render_conversation(self.backend, conv, parts=parts, plaintext=plaintext)

    # -- list (GET /conversations) --------------------------------------------------------------
    def _sorted(self) -> tuple[list[tuple[int, int]], list[dict[str, Any]]]:
        """Live conversations, newest update first; rebuilt only after a write."""
        if self._order is None or self._order[0] != self.version:
            rows = sorted(self.by_id.values(), key=lambda c: (-c["updated_at"], -int(c["id"])))
            keys = [(-c["updated_at"], -int(c["id"])) for c in rows]
            self._order = (self.version, keys, rows)
        return self._order[1], self._order[2]

    def list_page(
        self, per_page: int, starting_after: str | None
    ) -> tuple[list[dict[str, Any]], int, int, str | None]:
        """(page, page number, total_count, next cursor) ordered by updated_at desc.

        The cursor holds the (updated_at, id) of the last conversation served, so a
        conversation updated during a walk jumps to the front and is not seen again by
        that walk, as on a live workspace.
        """
        keys, rows = self._sorted()
        start, page_no = 0, 1
        if starting_after:
            data = decode_cursor_payload(starting_after)
            if (
                not isinstance(data, list)
                or len(data) != 4
                or data[0] != "conversations"
                or not all(isinstance(x, int) for x in data[1:])
            ):
                raise invalid_cursor()
            _, updated_at, conv_id, page_no = data
            start = bisect_right(keys, (-updated_at, -conv_id))
        window = rows[start : start + per_page]
        nxt = None
        if start + per_page < len(rows) and window:
            last = window[-1]
            nxt = encode_cursor(["conversations", last["updated_at"], int(last["id"]), page_no + 1])
        return window, page_no, len(rows), nxt

    # -- search -----------------------------------------------------------------------------
    def search(
        self, body: dict[str, Any]
    ) -> tuple[ParsedSearch, list[dict[str, Any]], int, str | None]:
        """POST /conversations/search: (parsed, page, total_count, next cursor).

        With the ``conversation_order: unsorted`` switch the body's sort is ignored
        (settings.py).
        """
        options = None
        if self.backend.settings.conversation_order == "unsorted":
            options = unsorted_options(self.backend.random_seed)
        parsed = parse_search(body, CONVERSATION_SEARCH, get=get_field, options=options)
        page, total, nxt = run_search(
            parsed,
            self.by_id.values(),
            CONVERSATION_SEARCH,
            get=get_field,
            cache=self.search_cache,
            cache_key=self.version,
        )
        return parsed, page, total, nxt

    # -- control ----------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {
            "conversations": [self.render(c, parts=True) for c in self.by_id.values()],
            "deleted": list(self.deleted),
        }
