"""The route table, as data: (method, path template, operationId, handler).

operationId is the 2.16 spec's, so stats and spec-conformance tests name operations as
the spec does. Handlers are ``module.function`` under ``intercom_sandbox.responses``.
Order matters: the first match wins, so literal segments come before ``{params}``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROUTES: list[tuple[str, str, str, str]] = [
    # Admins, workspace
    ("GET", "/me", "identifyAdmin", "workspace.identify_admin"),
    ("GET", "/admins", "listAdmins", "workspace.list_admins"),
    ("GET", "/admins/activity_logs", "listActivityLogs", "workspace.list_activity_logs"),
    ("GET", "/admins/{admin_id}", "retrieveAdmin", "workspace.retrieve_admin"),
    ("GET", "/teams", "listTeams", "workspace.list_teams"),
    ("GET", "/teams/{team_id}", "retrieveTeam", "workspace.retrieve_team"),
    ("GET", "/tags", "listTags", "workspace.list_tags"),
    ("POST", "/tags", "createTag", "workspace.create_tag"),
    ("GET", "/tags/{tag_id}", "findTag", "workspace.find_tag"),
    ("DELETE", "/tags/{tag_id}", "deleteTag", "workspace.delete_tag"),
    ("GET", "/segments", "listSegments", "workspace.list_segments"),
    ("GET", "/segments/{segment_id}", "retrieveSegment", "workspace.retrieve_segment"),
    ("GET", "/data_attributes", "lisDataAttributes", "workspace.list_data_attributes"),
    ("POST", "/data_attributes", "createDataAttribute", "workspace.create_data_attribute"),
    (
        "PUT",
        "/data_attributes/{data_attribute_id}",
        "updateDataAttribute",
        "workspace.update_data_attribute",
    ),
    ("POST", "/events", "createDataEvent", "workspace.create_data_event"),
    ("GET", "/events", "lisDataEvents", "workspace.list_data_events"),
    ("GET", "/articles", "listArticles", "workspace.list_articles"),
    ("GET", "/articles/search", "searchArticles", "workspace.search_articles"),
    ("GET", "/articles/{article_id}", "retrieveArticle", "workspace.retrieve_article"),
    # Contacts
    ("GET", "/contacts", "ListContacts", "contacts.list_contacts"),
    ("POST", "/contacts", "CreateContact", "contacts.create_contact"),
    ("POST", "/contacts/search", "SearchContacts", "contacts.search_contacts"),
    ("POST", "/contacts/merge", "MergeContact", "contacts.merge_contacts"),
    (
        "GET",
        "/contacts/find_by_external_id/{external_id}",
        "ShowContactByExternalId",
        "contacts.find_by_external_id",
    ),
    ("GET", "/contacts/{contact_id}", "ShowContact", "contacts.show_contact"),
    ("PUT", "/contacts/{contact_id}", "UpdateContact", "contacts.update_contact"),
    ("DELETE", "/contacts/{contact_id}", "DeleteContact", "contacts.delete_contact"),
    ("POST", "/contacts/{contact_id}/archive", "ArchiveContact", "contacts.archive_contact"),
    ("POST", "/contacts/{contact_id}/unarchive", "UnarchiveContact", "contacts.unarchive_contact"),
    (
        "GET",
        "/contacts/{contact_id}/companies",
        "listCompaniesForAContact",
        "contacts.list_contact_companies",
    ),
    (
        "POST",
        "/contacts/{contact_id}/companies",
        "attachContactToACompany",
        "contacts.attach_company",
    ),
    (
        "DELETE",
        "/contacts/{contact_id}/companies/{company_id}",
        "detachContactFromACompany",
        "contacts.detach_company",
    ),
    ("GET", "/contacts/{contact_id}/tags", "listTagsForAContact", "contacts.list_contact_tags"),
    ("POST", "/contacts/{contact_id}/tags", "attachTagToContact", "contacts.attach_tag"),
    (
        "DELETE",
        "/contacts/{contact_id}/tags/{tag_id}",
        "detachTagFromContact",
        "contacts.detach_tag",
    ),
    ("GET", "/contacts/{contact_id}/notes", "listNotes", "contacts.list_notes"),
    ("POST", "/contacts/{contact_id}/notes", "createNote", "contacts.create_note"),
    (
        "GET",
        "/contacts/{contact_id}/segments",
        "listSegmentsForAContact",
        "contacts.list_contact_segments",
    ),
    # Conversations
    ("GET", "/conversations", "listConversations", "conversations.list_conversations"),
    ("POST", "/conversations/search", "searchConversations", "conversations.search_conversations"),
    (
        "GET",
        "/conversations/deleted",
        "listDeletedConversationIds",
        "conversations.list_deleted_conversations",
    ),
    (
        "GET",
        "/conversations/{conversation_id}",
        "retrieveConversation",
        "conversations.retrieve_conversation",
    ),
    (
        "DELETE",
        "/conversations/{conversation_id}",
        "deleteConversation",
        "conversations.delete_conversation",
    ),
    # Tickets
    ("POST", "/tickets/search", "searchTickets", "conversations.search_tickets"),
    ("GET", "/tickets/{ticket_id}", "getTicket", "conversations.get_ticket"),
    # Companies
    ("POST", "/companies", "createOrUpdateCompany", "companies.create_or_update_company"),
    ("GET", "/companies", "retrieveCompany", "companies.retrieve_company"),
    ("GET", "/companies/scroll", "scrollOverAllCompanies", "companies.scroll_companies"),
    ("POST", "/companies/list", "listAllCompanies", "companies.list_all_companies"),
    ("GET", "/companies/{company_id}", "RetrieveACompanyById", "companies.retrieve_company_by_id"),
    ("PUT", "/companies/{company_id}", "UpdateCompany", "companies.update_company"),
    ("DELETE", "/companies/{company_id}", "deleteCompany", "companies.delete_company"),
    (
        "GET",
        "/companies/{company_id}/contacts",
        "ListAttachedContacts",
        "companies.list_attached_contacts",
    ),
    (
        "GET",
        "/companies/{company_id}/segments",
        "ListAttachedSegmentsForCompanies",
        "companies.list_company_segments",
    ),
]

# The sandbox's own control API: outside Intercom's paths, no auth, no rate limit, no faults.
CONTROL_ROUTES: list[tuple[str, str, str, str]] = [
    ("POST", "/_sandbox/reset", "sandboxReset", "control.reset"),
    ("POST", "/_sandbox/seed", "sandboxSeed", "control.seed"),
    ("GET", "/_sandbox/stats", "sandboxStats", "control.stats"),
    ("DELETE", "/_sandbox/stats", "sandboxStatsReset", "control.reset_stats"),
    ("GET", "/_sandbox/clock", "sandboxClock", "control.get_clock"),
    ("POST", "/_sandbox/clock", "sandboxClockSet", "control.set_clock"),
    ("GET", "/_sandbox/faults", "sandboxFaults", "control.get_faults"),
    ("POST", "/_sandbox/faults", "sandboxFaultsSet", "control.set_faults"),
    ("GET", "/_sandbox/config", "sandboxConfig", "control.get_config"),
    ("POST", "/_sandbox/config", "sandboxConfigSet", "control.set_config"),
    ("GET", "/_sandbox/state", "sandboxState", "control.dump_state"),
    ("GET", "/_sandbox/webhooks", "sandboxWebhooks", "control.list_webhooks"),
    ("POST", "/_sandbox/webhooks", "sandboxWebhooksChange", "control.change_webhooks"),
]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    operation_id: str
    handler: str
    regex: re.Pattern[str]


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{pattern}$")


def compile_routes(table: list[tuple[str, str, str, str]]) -> list[Route]:
    return [Route(m, t, op, h, _compile(t)) for m, t, op, h in table]


API_ROUTES = compile_routes(ROUTES)
SANDBOX_ROUTES = compile_routes(CONTROL_ROUTES)


_SLASHES = re.compile(r"/{2,}")


def match(routes: list[Route], method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
    """Return (route, path params, path_known). path_known is True when some method matched.

    Repeated slashes count as one, as Intercom's front end merges them: singer-io/tap-intercom
    requests ``base + "/" + "/contacts/{id}/tags"`` (intercom_sandbox/README.md).
    """
    if "//" in path:
        path = _SLASHES.sub("/", path)
    path_known = False
    for route in routes:
        m = route.regex.match(path)
        if m is None:
            continue
        path_known = True
        if route.method == method:
            return route, m.groupdict(), True
    return None, {}, path_known
