"""The tap's streams, one module per domain."""

from __future__ import annotations

from tap_intercom.streams.companies import CompaniesStream, CompanySegmentsStream
from tap_intercom.streams.contacts import LeadsStream, UsersStream
from tap_intercom.streams.conversation_parts import ConversationPartsStream
from tap_intercom.streams.conversations import ConversationsStream
from tap_intercom.streams.deleted import DeletedConversationsStream
from tap_intercom.streams.reconcile import DeletedContactsStream
from tap_intercom.streams.tickets import TicketsStream
from tap_intercom.streams.webhooks import WebhookEventsStream
from tap_intercom.streams.workspace import (
    ActivityLogsStream,
    AdminsStream,
    ArticlesStream,
    CompanyAttributesStream,
    ContactAttributesStream,
    SegmentsStream,
    TagsStream,
    TeamsStream,
)

# Streams run side by side (tap_intercom/scheduler.py), started in this order;
# company_segments starts after companies, whose scroll it reuses (``runs_after``).
STREAM_TYPES = (
    UsersStream,
    LeadsStream,
    ConversationsStream,
    ConversationPartsStream,
    DeletedConversationsStream,
    TicketsStream,
    CompaniesStream,
    CompanySegmentsStream,
    ContactAttributesStream,
    CompanyAttributesStream,
    AdminsStream,
    TeamsStream,
    TagsStream,
    SegmentsStream,
    ArticlesStream,
    ActivityLogsStream,
    WebhookEventsStream,
    DeletedContactsStream,
)

__all__ = [
    "STREAM_TYPES",
    "ActivityLogsStream",
    "AdminsStream",
    "ArticlesStream",
    "CompaniesStream",
    "CompanyAttributesStream",
    "CompanySegmentsStream",
    "ContactAttributesStream",
    "ConversationPartsStream",
    "ConversationsStream",
    "DeletedConversationsStream",
    "LeadsStream",
    "SegmentsStream",
    "TagsStream",
    "TeamsStream",
    "TicketsStream",
    "UsersStream",
    "WebhookEventsStream",
]
