"""Error types of the HTTP layer: one per Intercom failure a caller handles differently.

Every message is built from the status, Intercom's error code and message, and the request
id; the access token never enters one (the client also scrubs it, belt and braces).
"""

from __future__ import annotations

import re
from typing import Any

_EXISTING_ID = re.compile(r"id=([0-9a-fA-F]+)")
_LINK_CONTACT = re.compile(r"<[^>]*/contacts/([^/>?\s]+)>")


class ConfigError(ValueError):
    """A setting is missing or wrong; ``setting`` names it, the message says how to fix it."""

    def __init__(self, setting: str, message: str) -> None:
        self.setting = setting
        self.message = message
        super().__init__(message)


class IntercomError(Exception):
    """Base of every API failure: HTTP status, Intercom error code, message, request id."""

    def __init__(
        self,
        status: int | None,
        code: str | None,
        message: str,
        request_id: str | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
        headers: Any = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.method = method
        self.path = path
        self.headers = headers or {}
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.method} {self.path}: " if self.method and self.path else ""
        status = f"HTTP {self.status}" if self.status is not None else "no response"
        code = f" {self.code}" if self.code else ""
        rid = f" (request_id {self.request_id})" if self.request_id else ""
        return f"{where}{status}{code}: {self.message}{rid}"


class AuthenticationError(IntercomError):
    """401: the token is wrong, revoked, or belongs to another region's workspace."""

    def _render(self) -> str:
        return (
            f"Intercom rejected the access token (HTTP 401 {self.code or 'unauthorized'}: "
            f"{self.message}). Fix the access_token setting; if the token is right, check "
            f"region / api_url: a token only works on its own workspace's region."
        )


class ForbiddenError(IntercomError):
    """403: the token lacks a permission, or the plan does not include the API."""

    def _render(self) -> str:
        where = f" for {self.method} {self.path}" if self.method and self.path else ""
        return (
            f"Intercom refused the request{where} (HTTP 403 {self.code or 'forbidden'}: "
            f"{self.message}). The app behind the access_token setting lacks a permission: "
            f"grant it in the Developer Hub (and check region / api_url)."
        )


class NotFoundError(IntercomError):
    """404."""


class ConflictError(IntercomError):
    """409; ``existing_id`` is the id Intercom names in the message (FACTS.md §2.2)."""

    @property
    def existing_id(self) -> str | None:
        m = _EXISTING_ID.search(self.message or "")
        return m.group(1) if m else None


class GoneError(IntercomError):
    """410 (a merged contact); ``canonical_id`` comes from the Link header (FACTS.md §2.3)."""

    @property
    def canonical_id(self) -> str | None:
        link = _header(self.headers, "Link")
        m = _LINK_CONTACT.search(link or "")
        return m.group(1) if m else None


class BadRequestError(IntercomError):
    """400 / 422: the request itself is wrong; retrying will not help."""


class RateLimitError(IntercomError):
    """429 still answered after every retry."""


class ServerError(IntercomError):
    """5xx still answered after every retry."""


class TransportError(IntercomError):
    """Connection refused or dropped, timeout, truncated body, after every retry."""


class AmbiguousWriteError(IntercomError):
    """A non-idempotent write failed in a way that leaves its outcome unknown.

    The caller reconciles (e.g. searches for the object, then retries or moves on).
    """


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    value = headers.get(name)
    if value is None and isinstance(headers, dict):
        lower = name.lower()
        for k, v in headers.items():
            if k.lower() == lower:
                return v
    return value


_BY_STATUS: dict[int, type[IntercomError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    422: BadRequestError,
    429: RateLimitError,
}


def error_class(status: int) -> type[IntercomError]:
    """The exception type for an HTTP error status."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return IntercomError
