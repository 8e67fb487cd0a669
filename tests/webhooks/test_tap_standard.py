"""singer-sdk's standard tap tests on stream webhook_events, over a store filled by the
sandbox through a receiver (the SDK builds the test class at import time, so the store is
filled when this module is imported and removed after its tests).

The SDK's dry run syncs every stream of the tap, whatever the catalog says; the API streams
have their own run in tests/tap/test_standard.py, so this tap holds webhook_events only.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from singer_sdk import Stream
from singer_sdk.testing import get_tap_test_class
from webhook_support import SECRET, TOKEN, catalog_selecting

from intercom_sandbox.server import start
from intercom_webhooks.server import start as start_receiver
from intercom_webhooks.store import open_store
from tap_intercom.streams import WebhookEventsStream
from tap_intercom.tap import TapIntercom

pytestmark = pytest.mark.filterwarnings("ignore:Fields in transformed catalog but not in records")

_DIR = Path(tempfile.mkdtemp(prefix="webhooks-standard-"))
_STORE = str(_DIR / "webhooks.sqlite3")


def _fill_store() -> None:
    receiver = start_receiver(open_store(_STORE), SECRET.encode())
    sbx = start(tokens=[TOKEN], webhook_url=receiver.url, client_secret=SECRET)
    try:
        backend = sbx.backend
        with backend.lock:
            user = backend.contacts.create({"role": "user", "email": "a@example.com"})
            lead = backend.contacts.create({"role": "lead", "email": "a@example.com"})
            backend.contacts.update(user["id"], {"name": "A"})
            backend.contacts.merge(lead["id"], user["id"], skip_duplicate_validation=False)
            convs = backend.conversations
            conv = convs.create(
                author=convs.author_for_contact(user), contact_ids=[user["id"]], body="Hi"
            )
            convs.delete(conv["id"])
        assert backend.webhooks.wait_idle(30)
    finally:
        sbx.stop()
        sbx.backend.webhooks.close()
        receiver.stop()


_fill_store()


class WebhookEventsOnly(TapIntercom):
    """tap-intercom (its settings and run plumbing) with only the webhook_events stream."""

    def discover_streams(self) -> list[Stream]:
        return [WebhookEventsStream(self)]


TestWebhookEvents = get_tap_test_class(
    WebhookEventsOnly,
    config={
        "access_token": TOKEN,
        "api_url": "http://127.0.0.1:9",  # never called: this stream reads the store
        "webhook_store": _STORE,
    },
    catalog=catalog_selecting(["webhook_events"]),
)


@pytest.fixture(scope="module", autouse=True)
def _remove_store() -> Iterator[None]:
    yield
    shutil.rmtree(_DIR, ignore_errors=True)
