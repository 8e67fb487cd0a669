"""A stream Intercom refuses (403: the token lacks a permission) is skipped, not fatal.

Meltano selects every stream unless told otherwise, so a token without, say, *Read tickets*
must not end the whole run: the first 403 of a stream logs one line naming the stream and
the permission to grant, the stream stops (its bookmark stays where it was), the other
streams complete, and the run ends with a summary of what was skipped. With the
``strict_permissions`` setting the first 403 fails the run instead, naming the permission.

The permissions are named as Intercom's Developer Hub names them (Configure >
Authentication; the same names as its OAuth scopes page). Which one a stream needs is this
table; where Intercom does not document it the entry says so.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from intercom_api import ConfigError, errors

log = logging.getLogger("tap_intercom")

READ_USERS = "Read and list users and companies"

# stream -> the Intercom permission its reads need.
STREAM_PERMISSIONS: dict[str, str] = {
    "users": READ_USERS,
    "leads": READ_USERS,
    "deleted_contacts": READ_USERS,
    "companies": READ_USERS,
    "company_segments": READ_USERS,
    "segments": READ_USERS,  # "List and view all segments, users and companies"
    "contact_attributes": READ_USERS,  # not documented by Intercom
    "company_attributes": READ_USERS,  # not documented by Intercom
    "conversations": "Read conversations",
    "conversation_parts": "Read conversations",
    "deleted_conversations": "Read conversations",
    "tickets": "Read tickets",
    "admins": "Read admins",
    "teams": "Read admins",  # not documented by Intercom
    "tags": "Read tags",
    "articles": "Read and List articles",
    "activity_logs": "Read admin activity logs",
}


def permission_for(stream: str) -> str:
    """The Intercom permission ``stream`` needs (a generic phrase for an unknown stream)."""
    return STREAM_PERMISSIONS.get(stream, "the permission its endpoint needs")


@dataclass(frozen=True)
class Refusal:
    stream: str
    permission: str
    detail: str  # Intercom's code, message and request id (never the token)


class Refusals:
    """The streams this run skipped for a missing permission (thread-safe, one per run)."""

    def __init__(self, *, strict: bool) -> None:
        self.strict = strict
        self._lock = threading.Lock()
        self.skipped: list[Refusal] = []

    def refused(self, stream: str, error: errors.ForbiddenError) -> None:
        """Record the 403 that stopped ``stream``: one warning line, or (strict) a
        ConfigError that fails the run naming the permission."""
        permission = permission_for(stream)
        detail = f"HTTP 403 {error.code or 'forbidden'}: {error.message}"
        if error.request_id:
            detail += f", request_id {error.request_id}"
        if self.strict:
            raise ConfigError(
                "access_token",
                f"stream {stream}: Intercom refused it ({detail}): the access token's app "
                f'lacks the "{permission}" permission. Grant it in the Developer Hub '
                f"(Configure > Authentication), or deselect the stream; strict_permissions "
                f"is on, so the run stops.",
            )
        with self._lock:
            self.skipped.append(Refusal(stream, permission, detail))
        log.warning(
            'stream %s skipped: the access token lacks Intercom\'s "%s" permission (%s). '
            "Grant it in the Developer Hub (Configure > Authentication) or deselect the "
            "stream; the other streams go on.",
            stream,
            permission,
            detail,
        )

    def log_summary(self) -> None:
        """One line at the end of a run that skipped streams (nothing otherwise)."""
        with self._lock:
            skipped = list(self.skipped)
        if skipped:
            log.warning(
                "run complete with %d stream(s) skipped for missing permissions: %s",
                len(skipped),
                "; ".join(f'{r.stream} (needs "{r.permission}")' for r in skipped),
            )
