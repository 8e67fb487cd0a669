"""Deterministic, realistic seed data (to be filled in)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

SEED_KINDS = ("users", "leads", "companies", "conversations", "tickets", "admins", "tags",
              "segments", "articles")


def seed_backend(backend: Backend, counts: dict[str, int]) -> dict[str, int]:
    """Create the given numbers of objects; return what was created per kind."""
    raise NotImplementedError
