"""All sandbox state: one Backend composed of a store per domain, guarded by one lock.

The HTTP layer takes ``backend.lock`` around every handler, so stores need no locks of
their own. Stores reach each other through the backend (``backend.companies`` ...).
"""

from __future__ import annotations

import hashlib
import random
import threading
from typing import Any

from intercom_sandbox.clock import Clock
from intercom_sandbox.models.companies import CompanyStore
from intercom_sandbox.models.contacts import ContactStore
from intercom_sandbox.models.conversations import ConversationStore, TicketStore
from intercom_sandbox.models.workspace import WorkspaceStore
from intercom_sandbox.settings import Settings
from intercom_sandbox.webhooks import WebhookSender, render_item

WORKSPACE_ID = "sbx4nd8o"


class Backend:
    def __init__(
        self,
        *,
        clock: Clock | None = None,
        random_seed: int = 0,
        search_lag_seconds: float = 0.0,
        settings: Settings | None = None,
    ) -> None:
        self.lock = threading.RLock()
        # Behaviour switches and the workspace timezone (settings.py); a reset keeps them.
        self.settings = settings or Settings()
        self.clock = clock or Clock()
        self.random_seed = random_seed
        # A write reaches search results only this many (sandbox-clock) seconds later.
        self.search_lag_seconds = float(search_lag_seconds)
        self.workspace_id = WORKSPACE_ID
        # Webhook subscriptions are the app's configuration: a reset keeps them.
        self.webhooks = WebhookSender(
            app_id=WORKSPACE_ID, clock=self.clock, random_seed=random_seed
        )
        self.reset()

    def reset(self) -> None:
        """Forget every object; ids start again from the same seeded sequence."""
        with self.lock:
            self._serial = 0
            self.rng = random.Random(self.random_seed)
            self.workspace = WorkspaceStore(self)
            self.companies = CompanyStore(self)
            self.contacts = ContactStore(self)
            self.conversations = ConversationStore(self)
            self.tickets = TicketStore(self)

    # -- ids ----------------------------------------------------------------------------
    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def new_hex_id(self) -> str:
        """A 24-hex id like Intercom's contact and company ids (deterministic per seed)."""
        n = self._next()
        return hashlib.blake2b(f"{self.random_seed}:{n}".encode(), digest_size=12).hexdigest()

    def new_numeric_id(self, base: int = 100_000_000) -> str:
        """A numeric string id like Intercom's conversation, admin and tag ids."""
        return str(base + self._next())

    def now(self) -> int:
        return self.clock.now_int()

    def emit(self, topic: str, record: dict[str, Any], *, merged_from: str | None = None) -> None:
        """A write was applied: notify the webhook subscribers of ``topic`` (webhooks.py)."""
        if self.webhooks.wants(topic):
            item = render_item(self, topic, record, merged_from=merged_from)
            self.webhooks.emit(topic, item)

    # -- control ------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        """A JSON-able snapshot of every store, for tests that read state back."""
        return {
            "workspace": self.workspace.dump(),
            "companies": self.companies.dump(),
            "contacts": self.contacts.dump(),
            "conversations": self.conversations.dump(),
            "tickets": self.tickets.dump(),
        }
