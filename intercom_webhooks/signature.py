"""Intercom's webhook signature (FACTS.md §7): ``X-Hub-Signature: sha1=<40 hex>``, the
HMAC-SHA1 of the raw request body keyed with the app's client secret."""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature"
PREFIX = "sha1="


def sign(secret: bytes, body: bytes) -> str:
    """The header value Intercom sends for ``body``."""
    return PREFIX + hmac.new(secret, body, hashlib.sha1).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """True when ``header`` is the signature of the raw ``body`` (compared in constant time).

    Checked on the bytes as received, before any parsing: a re-serialised body would not
    match. A missing or malformed header is simply not valid.
    """
    if not header or not header.startswith(PREFIX):
        return False
    expected = sign(secret, body).encode("ascii")
    return hmac.compare_digest(expected, header.strip().lower().encode("ascii", "replace"))
