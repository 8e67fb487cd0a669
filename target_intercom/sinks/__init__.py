"""One sink per object kind the target writes; unknown streams get a rejecting sink."""

from __future__ import annotations

from target_intercom.sinks.base import IntercomSink
from target_intercom.sinks.companies import CompaniesSink
from target_intercom.sinks.events import EventsSink
from target_intercom.sinks.leads import LeadsSink
from target_intercom.sinks.unknown import UnknownStreamSink
from target_intercom.sinks.users import UsersSink

SINKS: dict[str, type[IntercomSink]] = {
    "users": UsersSink,
    "leads": LeadsSink,
    "companies": CompaniesSink,
    "events": EventsSink,
}

__all__ = [
    "SINKS",
    "CompaniesSink",
    "EventsSink",
    "IntercomSink",
    "LeadsSink",
    "UnknownStreamSink",
    "UsersSink",
]
