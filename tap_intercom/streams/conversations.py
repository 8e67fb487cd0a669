"""Stream `conversations`: POST /conversations/search, second-precise dates (FACTS.md §3)."""

from __future__ import annotations

from tap_intercom.search import SearchStream


class ConversationsStream(SearchStream):
    """Conversations as search returns them (``conversation_list_item``: no parts, FACTS §3)."""

    name = "conversations"
    search_path = "/conversations/search"
    list_key = "conversations"
    day_granular = False
