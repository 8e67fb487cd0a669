"""Stream `conversations`: POST /conversations/search, second-precise dates (FACTS.md §3)."""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from tap_intercom.search import SearchStream

CONTACT_ROLES = ("user", "lead")


class ConversationsStream(SearchStream):
    """Conversations as search returns them (``conversation_list_item``: no parts, FACTS §3).

    Two derived columns give the original connector's meanings, which no Intercom field
    carries as such:

    - ``assignee_id``: the assigned admin's id as a string, null when unassigned
      (``admin_assignee_id`` is 0 then, FACTS.md §3);
    - ``contact_role``: ``user`` or ``lead`` when a contact wrote the first message
      (``source.author.type``); null otherwise (``contacts.contacts[].type`` is always
      ``contact``: join ``contacts.contacts[0].id`` to users / leads for the role).
    """

    name = "conversations"
    search_path = "/conversations/search"
    list_key = "conversations"
    day_granular = False

    @override
    def enrich(self, records: list[dict[str, Any]]) -> None:
        for rec in records:
            assignee = rec.get("admin_assignee_id")
            rec["assignee_id"] = str(assignee) if assignee not in (None, 0, "0", "") else None
            source = rec.get("source")
            author = source.get("author") if isinstance(source, dict) else None
            kind = author.get("type") if isinstance(author, dict) else None
            rec["contact_role"] = kind if kind in CONTACT_ROLES else None
