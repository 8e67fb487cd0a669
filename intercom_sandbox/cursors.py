"""Opaque pagination cursors (base64 of a JSON list), shared by search and list endpoints.

A cursor the sandbox did not hand out is Intercom's 400 ``client_error`` "Invalid
starting_after param" (FACTS.md §6).
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from intercom_sandbox import exceptions as exc


def invalid_cursor() -> exc.ClientError:
    return exc.ClientError(
        "Invalid starting_after param. Please try again using a starting_after value "
        "from a paginated response"
    )


def encode_cursor(payload: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor_payload(cursor: str) -> Any:
    """The JSON inside an opaque cursor; a bad cursor is Intercom's 400 client_error."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return orjson.loads(raw)
    except (ValueError, TypeError) as e:
        raise invalid_cursor() from e
