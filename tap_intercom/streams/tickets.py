"""Stream `tickets`: POST /tickets/search [S16:21090], incremental on ``updated_at``.

Ticket search is second-precise like conversation search (FACTS.md §3), so it is read
exactly as conversations are: probed, cut into time slices, walked on worker threads.
"""

from __future__ import annotations

from tap_intercom.search import SearchStream


class TicketsStream(SearchStream):
    """Tickets as search returns them (with their ``ticket_parts``)."""

    name = "tickets"
    search_path = "/tickets/search"
    list_key = "tickets"
    day_granular = False
    selected_by_default = False  # a run without a catalog reads the core streams only
