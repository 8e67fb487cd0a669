"""Behaviour switches: where Intercom's behaviour is unknown, the sandbox offers each variant.

One ``Settings`` per backend, set by ``start(...)`` keywords, ``intercom-sandbox`` flags and
``POST /_sandbox/config``; ``/_sandbox/reset`` keeps them (like the clock). Each switch is
defined once here (name, choices, default, what it changes); the CLI and the control API
read this table. See intercom_sandbox/README.md, "Switches".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# Intercom-Version values that name the Preview version (formerly "Unstable": "existing
# version identifiers will continue to work", FACTS.md §1).
PREVIEW_VERSIONS = frozenset(["Preview", "Unstable"])


@dataclass(frozen=True)
class Switch:
    name: str
    choices: tuple[str, ...]
    default: str
    help: str


SWITCHES: dict[str, Switch] = {
    s.name: s
    for s in (
        Switch(
            "email_match",
            ("case_insensitive", "case_sensitive"),
            "case_insensitive",
            "e-mail equality (=, !=, IN, NIN on email and email_domain) in contact search; "
            "unknown at Intercom (FACTS.md §11)",
        ),
        Switch(
            "conversation_order",
            ("sorted", "unsorted"),
            "sorted",
            "sorted: conversation and ticket search honour the body's sort; unsorted: they "
            "ignore it and answer in a stable order unrelated to time (seeded shuffle)",
        ),
        Switch(
            "deleted_order",
            ("deleted_at", "id"),
            "deleted_at",
            "what GET /conversations/deleted's order=asc|desc sorts on: the deletion time, or "
            "the conversation id (the spec says only 'returns the conversation IDs in "
            "ascending or descending order')",
        ),
        Switch(
            "contact_date_precision",
            ("day", "second"),
            "day",
            "day: stable versions' calendar-day matching of contact dates in the workspace "
            "timezone (FACTS.md §2.6); second: Preview's exact-second matching in UTC, "
            ">= and <= allowed (always so with Intercom-Version: Preview or Unstable)",
        ),
    )
}
DEFAULT_TIMEZONE = "UTC"


def parse_zone(name: Any) -> ZoneInfo:
    """The IANA timezone ``name``; anything else is a ValueError naming the setting."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"timezone must be an IANA timezone name (got {name!r})")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ValueError(
            f"timezone must be an IANA timezone name such as Europe/Paris (got {name!r})"
        ) from e


@dataclass
class Settings:
    """The sandbox's behaviour switches and the workspace timezone."""

    email_match: str = "case_insensitive"
    conversation_order: str = "sorted"
    deleted_order: str = "deleted_at"
    contact_date_precision: str = "day"
    timezone: str = DEFAULT_TIMEZONE
    _zone: tzinfo = field(default=ZoneInfo(DEFAULT_TIMEZONE), repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in SWITCHES:
            self.set(name, getattr(self, name))
        self.set("timezone", self.timezone)

    def set(self, name: str, value: Any) -> None:
        """Change one setting; a bad name or value is a ValueError that says what is allowed."""
        if name == "timezone":
            self._zone = parse_zone(value)
            self.timezone = value.strip()
            return
        switch = SWITCHES.get(name)
        if switch is None:
            known = ", ".join([*SWITCHES, "timezone"])
            raise KeyError(f"Unknown sandbox setting {name!r}; known: {known}")
        if value not in switch.choices:
            raise ValueError(f"{name} must be one of {', '.join(switch.choices)} (got {value!r})")
        setattr(self, name, value)

    @property
    def zone(self) -> tzinfo:
        """The workspace timezone (contact search's calendar days, ``GET /me``)."""
        return self._zone

    def to_dict(self) -> dict[str, str]:
        return {**{name: getattr(self, name) for name in SWITCHES}, "timezone": self.timezone}
