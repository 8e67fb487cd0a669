"""Access tokens with limited permissions, and the one table of what each operation needs.

An Intercom app's token carries the permissions ticked in the Developer Hub (Configure >
Authentication; the OAuth scopes page lists them by these names). An operation the token
lacks a permission for answers **403** with code ``action_forbidden`` (FACTS.md §6). Tokens
are given as ``NAME`` (every permission) or ``NAME:perm1,perm2`` (only those), on the
command line (``--token``) and to ``start(tokens=[...])``.

Which permission an operation needs is Intercom's documentation where it says so (the
OAuth scopes page: "Read and list users and companies: List and view all segments, users
and companies", "Read tags: List all tags", "Read conversations", "Read tickets", "Read
admins: List and view all admins", "Read admin activity logs", "Read and List articles",
"Write users and companies", "Write tags", "Write events", "Read events", "Write data
attributes"). Not documented, chosen here and marked ``# unverified``: teams (taken as
"Read admins"), data attributes read (taken as "Read and list users and companies"),
conversation deletion (taken as "Write conversations"). ``GET /me`` needs none.
"""

from __future__ import annotations

from dataclasses import dataclass

READ_USERS = "Read and list users and companies"
READ_ONE_USER = "Read one user and one company"
READ_WRITE_USERS = "Read and write users"
WRITE_USERS = "Write users and companies"
READ_TAGS = "Read tags"
WRITE_TAGS = "Write tags"
READ_CONVERSATIONS = "Read conversations"
WRITE_CONVERSATIONS = "Write conversations"
READ_TICKETS = "Read tickets"
READ_ADMINS = "Read admins"
READ_ONE_ADMIN = "Read one admin"
READ_ACTIVITY_LOGS = "Read admin activity logs"
READ_EVENTS = "Read events"
WRITE_EVENTS = "Write events"
WRITE_DATA_ATTRIBUTES = "Write data attributes"
READ_ARTICLES = "Read and List articles"

# Every permission name the sandbox knows (the Developer Hub's, spelled as it spells them).
PERMISSIONS: tuple[str, ...] = (
    READ_USERS,
    READ_WRITE_USERS,
    WRITE_USERS,
    READ_ONE_USER,
    READ_TAGS,
    WRITE_TAGS,
    READ_CONVERSATIONS,
    WRITE_CONVERSATIONS,
    READ_EVENTS,
    WRITE_EVENTS,
    WRITE_DATA_ATTRIBUTES,
    READ_TICKETS,
    READ_ADMINS,
    READ_ONE_ADMIN,
    READ_ACTIVITY_LOGS,
    READ_ARTICLES,
)

_LIST_USERS = (READ_USERS, READ_WRITE_USERS)
_ONE_USER = (READ_USERS, READ_WRITE_USERS, READ_ONE_USER)

# operationId (intercom_sandbox/urls.py) -> the permissions any one of which allows it.
# An operation missing from the table needs no permission (GET /me).
OPERATION_PERMISSIONS: dict[str, tuple[str, ...]] = {
    # admins, teams, activity logs
    "listAdmins": (READ_ADMINS,),
    "retrieveAdmin": (READ_ADMINS, READ_ONE_ADMIN),
    "listActivityLogs": (READ_ACTIVITY_LOGS,),
    "listTeams": (READ_ADMINS,),  # unverified
    "retrieveTeam": (READ_ADMINS,),  # unverified
    # tags
    "listTags": (READ_TAGS,),
    "findTag": (READ_TAGS,),
    "createTag": (WRITE_TAGS,),
    "deleteTag": (WRITE_TAGS,),
    # segments, data attributes, events, articles
    "listSegments": _LIST_USERS,
    "retrieveSegment": _LIST_USERS,
    "lisDataAttributes": _LIST_USERS,  # unverified
    "createDataAttribute": (WRITE_DATA_ATTRIBUTES,),
    "updateDataAttribute": (WRITE_DATA_ATTRIBUTES,),
    "createDataEvent": (WRITE_EVENTS,),
    "lisDataEvents": (READ_EVENTS,),
    "listArticles": (READ_ARTICLES,),
    "searchArticles": (READ_ARTICLES,),
    "retrieveArticle": (READ_ARTICLES,),
    # contacts
    "ListContacts": _LIST_USERS,
    "SearchContacts": _LIST_USERS,
    "ShowContact": _ONE_USER,
    "ShowContactByExternalId": _ONE_USER,
    "listCompaniesForAContact": _ONE_USER,
    "listTagsForAContact": _ONE_USER,
    "listNotes": _ONE_USER,
    "listSegmentsForAContact": _ONE_USER,
    "CreateContact": (WRITE_USERS,),
    "UpdateContact": (WRITE_USERS,),
    "DeleteContact": (WRITE_USERS,),
    "MergeContact": (WRITE_USERS,),
    "ArchiveContact": (WRITE_USERS,),
    "UnarchiveContact": (WRITE_USERS,),
    "attachContactToACompany": (WRITE_USERS,),
    "detachContactFromACompany": (WRITE_USERS,),
    "attachTagToContact": (WRITE_TAGS,),
    "detachTagFromContact": (WRITE_TAGS,),
    "createNote": (WRITE_USERS,),
    # conversations, tickets
    "listConversations": (READ_CONVERSATIONS,),
    "searchConversations": (READ_CONVERSATIONS,),
    "listDeletedConversationIds": (READ_CONVERSATIONS,),
    "retrieveConversation": (READ_CONVERSATIONS,),
    "deleteConversation": (WRITE_CONVERSATIONS,),  # unverified
    "searchTickets": (READ_TICKETS,),
    "getTicket": (READ_TICKETS,),
    # companies
    "createOrUpdateCompany": (WRITE_USERS,),
    "UpdateCompany": (WRITE_USERS,),
    "deleteCompany": (WRITE_USERS,),
    "retrieveCompany": _LIST_USERS,
    "scrollOverAllCompanies": _LIST_USERS,
    "listAllCompanies": _LIST_USERS,
    "RetrieveACompanyById": _ONE_USER,
    "ListAttachedContacts": _LIST_USERS,
    "ListAttachedSegmentsForCompanies": _LIST_USERS,
}

_BY_LOWER = {p.lower(): p for p in PERMISSIONS}


@dataclass(frozen=True)
class Token:
    """An access token the sandbox accepts, and what it may do (None: everything)."""

    secret: bytes
    permissions: frozenset[str] | None = None

    def missing(self, operation_id: str) -> str | None:
        """The permission this token lacks for ``operation_id`` (the first that would do),
        or None when the operation is allowed."""
        if self.permissions is None:
            return None
        needed = OPERATION_PERMISSIONS.get(operation_id)
        if not needed or self.permissions.intersection(needed):
            return None
        return needed[0]


def parse_token(spec: str) -> Token:
    """``NAME`` (every permission) or ``NAME:perm1,perm2`` (only those; names as Intercom's
    Developer Hub spells them, case ignored). ValueError names an unknown permission and
    the known ones; it never quotes the token itself."""
    name, sep, perms = spec.partition(":")
    if not name:
        raise ValueError("--token: the token before ':' is empty")
    if not sep:
        return Token(name.encode())
    granted: set[str] = set()
    for raw in perms.split(","):
        wanted = raw.strip()
        if not wanted:
            continue
        known = _BY_LOWER.get(wanted.lower())
        if known is None:
            raise ValueError(
                f"--token: unknown permission {wanted!r}; Intercom's permissions are: "
                + ", ".join(PERMISSIONS)
            )
        granted.add(known)
    return Token(name.encode(), frozenset(granted))


def forbidden_message(permission: str) -> str:
    """The 403 message: which permission the operation needs (FACTS.md §6: code
    ``action_forbidden``; Intercom's own wording is not verified)."""
    return f"You do not have the permissions required for this action: {permission}"
