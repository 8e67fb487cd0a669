"""A stream the user did not select makes no API call (counted by /_sandbox/stats)."""

from __future__ import annotations

from tap_support import D0, DAY, SandboxControl, catalog_selecting, run_tap

from intercom_sandbox.server import RunningSandbox
from tap_intercom.tap import STREAM_NAMES
from tap_intercom.transform import iso

CLOCK = {"identifyAdmin"}  # GET /me: the server clock behind the bookmark cap, once a run
CONTACT_LOOKUPS = {
    "listTags",
    "RetrieveACompanyById",
    "listAllCompanies",
    "listTagsForAContact",
    "listCompaniesForAContact",
}
# stream -> (operations it must call, operations it may also call)
OPERATIONS: dict[str, tuple[set[str], set[str]]] = {
    "users": ({"SearchContacts"}, CLOCK | CONTACT_LOOKUPS),
    "leads": ({"SearchContacts"}, CLOCK | CONTACT_LOOKUPS),
    "conversations": ({"searchConversations"}, CLOCK),
    "conversation_parts": ({"searchConversations", "retrieveConversation"}, CLOCK),
    "deleted_conversations": ({"listDeletedConversationIds"}, CLOCK),
    "deleted_contacts": ({"ListContacts"}, CLOCK | {"ShowContact"}),
    "tickets": ({"searchTickets"}, CLOCK),
    "companies": ({"scrollOverAllCompanies"}, CLOCK),
    "company_segments": ({"scrollOverAllCompanies", "ListAttachedSegmentsForCompanies"}, set()),
    "contact_attributes": ({"lisDataAttributes"}, set()),
    "company_attributes": ({"lisDataAttributes"}, set()),
    "admins": ({"listAdmins"}, set()),
    "teams": ({"listTeams"}, set()),
    "tags": ({"listTags"}, set()),
    "segments": ({"listSegments"}, set()),
    "articles": ({"listArticles"}, CLOCK),
    "activity_logs": ({"listActivityLogs"}, CLOCK),
    # Reads intercom-webhooks' store, never the API (tests/webhooks/ cover it).
    "webhook_events": (set(), set()),
}


def test_each_stream_alone_calls_only_its_own_endpoints(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    assert set(OPERATIONS) == set(STREAM_NAMES)
    ctl.clock(D0)
    ctl.seed(users=40, leads=10, companies=5, conversations=10, tickets=5)
    ctl.api.delete(f"{ctl.base}/conversations/{sorted(sandbox.app.backend.conversations.by_id)[0]}")
    for stream, (required, allowed) in OPERATIONS.items():
        ctl.reset_stats()
        run = run_tap(
            sandbox.base_url,
            catalog=catalog_selecting([stream]),
            start_date=iso(D0 - 400 * DAY),
        )
        called = set(ctl.stats()["operations"])
        assert required <= called, stream
        assert called <= required | allowed, (stream, called - required - allowed)
        emitted = {m["stream"] for m in run.messages if m["type"] == "RECORD"}
        assert emitted <= {stream}


def test_without_a_catalog_only_the_core_streams_run(
    sandbox: RunningSandbox, ctl: SandboxControl
) -> None:
    ctl.clock(D0)
    ctl.seed(users=20, companies=3, conversations=5, tickets=3)
    ctl.reset_stats()
    run = run_tap(sandbox.base_url, start_date=iso(D0 - 400 * DAY))
    emitted = {m["stream"] for m in run.messages if m["type"] == "RECORD"}
    assert emitted == {"users", "conversations"}  # no leads seeded
    allowed = set().union(
        *(OPERATIONS[s][0] | OPERATIONS[s][1] for s in ("users", "conversations"))
    )
    assert set(ctl.stats()["operations"]) <= allowed
