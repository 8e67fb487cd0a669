"""The target's settings: the config schema (documented by ``--about``) and typed options.

Connection settings carry the same names, defaults and meaning as the tap's (see
``intercom_api.ClientSettings``), so one Meltano config block can serve both plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from singer_sdk import typing as th

from intercom_api.config_schema import connection_properties
from intercom_api.errors import ConfigError

STREAMS = ("users", "leads", "companies", "events")
WRITE_MODES = ("upsert", "update_only", "create_only")
LEAD_MODES = ("email", "key_attribute", "create")
# The name lead_mode: key_attribute had before it asked for consent (still accepted).
LEGACY_LEAD_MODE = "idempotent"
DEFAULT_REJECTS_FILE = "target-intercom.rejects.jsonl"
DEFAULT_LEAD_KEY_ATTRIBUTE = "target_intercom_key"

CONNECTION_SETTINGS = th.PropertiesList(
    *connection_properties(
        max_workers_description="The fewest writes in flight, all under the shared rate "
        "limiter; more (up to 32) when the measured latency needs them to fill the budget."
    )
)

TARGET_SETTINGS = th.PropertiesList(
    th.Property(
        "write_mode",
        th.StringType,
        default="upsert",
        allowed_values=list(WRITE_MODES),
        description="users, leads, companies: 'upsert' updates the contact or company a row "
        "matches and creates it otherwise; 'update_only' never creates (a row matching "
        "nothing is counted skipped_no_match); 'create_only' never changes an existing one "
        "(a row that matches is counted skipped_exists). Events are always sent.",
    ),
    th.Property(
        "stream_write_modes",
        th.ObjectType(additional_properties=th.StringType),
        description='write_mode per stream, e.g. {"users": "update_only"}: keys are the '
        "target's streams (users, leads, companies) or input stream names (before "
        "stream_maps aliases); the others use write_mode.",
    ),
    th.Property(
        "clear_on_null",
        th.BooleanType,
        default=False,
        description="users and leads: a column present with null clears that field in "
        "Intercom (name, phone, avatar, signed_up_at, last_seen_at, owner_id, "
        "unsubscribed_from_emails, custom attributes). Off: null means 'not provided'. An "
        "empty string always means 'not provided'; email and external_id are never cleared.",
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description="Read and match only: search Intercom, decide each record's outcome, log "
        "what would be written, and write nothing (no contact, company, tag, attribute or "
        "event is created or changed). No STATE is emitted, so the next real run starts "
        "from the same place.",
    ),
    th.Property(
        "rejects_file",
        th.StringType,
        default=DEFAULT_REJECTS_FILE,
        description="JSON-lines file (owner-only permissions) of the run's rejected records: "
        "the record as received, its stream, the reason, and Intercom's error code and "
        "request id. One file per run: a previous run's file at this path is first renamed "
        "<name>.<its run id>.jsonl.",
    ),
    th.Property(
        "results_file",
        th.StringType,
        description="JSON-lines file (owner-only permissions) with one line per row: stream, "
        "the record's key columns, outcome, Intercom id and request id (created ids "
        "included, for your CRM). One file per run, like rejects_file. Unset: not written.",
    ),
    th.Property(
        "max_rejects",
        th.IntegerType,
        description="Fail the run once more than this many records are rejected or ambiguous "
        "(0: the first one fails it). Unset: they never fail the run; they only go to "
        "rejects_file.",
    ),
    th.Property(
        "extra_columns",
        th.StringType,
        default="custom_attributes",
        allowed_values=["custom_attributes", "ignore"],
        description="What to do with record columns that are not Intercom fields: send them as "
        "custom attributes (events: as metadata) or ignore them (logged once per column).",
    ),
    th.Property(
        "create_custom_attributes",
        th.BooleanType,
        default=False,
        description="Create missing custom data attributes (POST /data_attributes) before "
        "writing; otherwise a record using an unknown one is rejected (Intercom refuses "
        "attributes that do not exist). Columns typed date-time / date in the stream's "
        "schema, or named *_at / *_date with timestamp values, become date attributes.",
    ),
    th.Property(
        "lead_mode",
        th.StringType,
        default="email",
        allowed_values=[*LEAD_MODES, LEGACY_LEAD_MODE],
        description="leads stream: 'email' matches the oldest lead with the row's e-mail "
        "(a re-delivered row updates it; a lead someone else created with that e-mail is "
        "updated too); 'key_attribute' matches only leads this target created, stamped with "
        "lead_key_attribute (needs create_lead_key_attribute: true); 'create' creates a lead "
        "for every row (a re-run duplicates them). 'idempotent' is the old name of "
        "key_attribute.",
    ),
    th.Property(
        "create_lead_key_attribute",
        th.BooleanType,
        default=False,
        description="Consent for lead_mode: key_attribute: create the contact attribute "
        "lead_key_attribute in the workspace (when missing) and store each created lead's "
        "e-mail in it.",
    ),
    th.Property(
        "lead_key_attribute",
        th.StringType,
        default=DEFAULT_LEAD_KEY_ATTRIBUTE,
        description="lead_mode: key_attribute: the string contact attribute holding the key "
        "(lower-case e-mail) of each lead this target creates.",
    ),
    th.Property(
        "delete_mode",
        th.StringType,
        default="archive",
        allowed_values=["archive", "delete", "ignore"],
        description="Records carrying _sdc_deleted_at: archive the contact, delete it "
        "(companies: delete), or ignore the record.",
    ),
    th.Property(
        "reconcile_timeout",
        th.NumberType,
        default=300,
        description="Seconds to look for a lead whose create had an unknown outcome (a "
        "connection dropped after sending) before failing the batch, so that a re-run finds "
        "it rather than duplicating it (contact search lags writes by minutes).",
    ),
)


def config_schema() -> dict[str, Any]:
    """The whole config schema: connection settings, then target settings."""
    schema = CONNECTION_SETTINGS.to_dict()
    schema["properties"].update(TARGET_SETTINGS.to_dict()["properties"])
    return schema


@dataclass(frozen=True)
class TargetOptions:
    """The target settings, validated once."""

    dry_run: bool = False
    rejects_file: str = DEFAULT_REJECTS_FILE
    results_file: str | None = None
    max_rejects: int | None = None
    extra_columns: str = "custom_attributes"
    create_custom_attributes: bool = False
    write_mode: str = "upsert"
    stream_write_modes: Mapping[str, str] = field(default_factory=dict)
    clear_on_null: bool = False
    lead_mode: str = "email"
    lead_key_attribute: str | None = None  # set only in lead_mode key_attribute
    delete_mode: str = "archive"
    reconcile_timeout: float = 300.0

    def write_mode_for(self, input_stream: str, stream: str) -> str:
        """The write mode of a row of ``input_stream``, written by the ``stream`` sink."""
        modes = self.stream_write_modes
        return modes.get(input_stream) or modes.get(stream) or self.write_mode

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TargetOptions:
        """Read and check the target settings; raise ConfigError naming the setting."""

        def choice(key: str, allowed: tuple[str, ...], default: str) -> str:
            value = config.get(key)
            if value in (None, ""):
                return default
            if value not in allowed:
                raise ConfigError(
                    key, f"{key} must be one of {', '.join(allowed)} (got {value!r})."
                )
            return str(value)

        max_rejects = config.get("max_rejects")
        if max_rejects is not None and (
            isinstance(max_rejects, bool) or not isinstance(max_rejects, int) or max_rejects < 0
        ):
            raise ConfigError(
                "max_rejects", f"max_rejects must be a whole number >= 0 (got {max_rejects!r})."
            )
        timeout = config.get("reconcile_timeout", 300)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout < 0:
            raise ConfigError(
                "reconcile_timeout", f"reconcile_timeout must be >= 0 seconds (got {timeout!r})."
            )
        write_mode = choice("write_mode", WRITE_MODES, cls.write_mode)
        stream_modes = _stream_write_modes(config.get("stream_write_modes"))
        lead_mode, key_attribute = _lead_mode(config)
        if lead_mode == "create" and "update_only" in (stream_modes.get("leads") or write_mode,):
            raise ConfigError(
                "lead_mode",
                "lead_mode: create matches no existing lead, so the leads stream cannot be "
                "update_only (write_mode / stream_write_modes): set lead_mode to email (or "
                "key_attribute) to update existing leads.",
            )
        return cls(
            dry_run=bool(config.get("dry_run", False)),
            rejects_file=str(config.get("rejects_file") or cls.rejects_file),
            results_file=str(config["results_file"]) if config.get("results_file") else None,
            max_rejects=max_rejects,
            extra_columns=choice(
                "extra_columns", ("custom_attributes", "ignore"), cls.extra_columns
            ),
            create_custom_attributes=bool(config.get("create_custom_attributes", False)),
            write_mode=write_mode,
            stream_write_modes=stream_modes,
            clear_on_null=bool(config.get("clear_on_null", False)),
            lead_mode=lead_mode,
            lead_key_attribute=key_attribute,
            delete_mode=choice("delete_mode", ("archive", "delete", "ignore"), cls.delete_mode),
            reconcile_timeout=float(timeout),
        )


def _stream_write_modes(value: Any) -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(
            "stream_write_modes",
            "stream_write_modes must be an object of stream names to write modes, e.g. "
            f'{{"users": "update_only"}} (got {value!r}).',
        )
    out: dict[str, str] = {}
    for stream, mode in value.items():
        if stream == "events":
            raise ConfigError(
                "stream_write_modes",
                "stream_write_modes cannot name events: events are appended facts, always "
                "sent (Intercom has no event to update). Remove the events entry.",
            )
        if mode not in WRITE_MODES:
            raise ConfigError(
                "stream_write_modes",
                f"stream_write_modes[{stream!r}] must be one of {', '.join(WRITE_MODES)} "
                f"(got {mode!r}).",
            )
        out[str(stream)] = str(mode)
    return out


def _lead_mode(config: Mapping[str, Any]) -> tuple[str, str | None]:
    """lead_mode and, for key_attribute, the attribute name (consent checked)."""
    if "lead_marker_attribute" in config:
        raise ConfigError(
            "lead_marker_attribute",
            "lead_marker_attribute was replaced: to match leads by an attribute the target "
            "creates, set lead_mode: key_attribute, create_lead_key_attribute: true and "
            "lead_key_attribute to its name; to match leads by e-mail, set lead_mode: email. "
            "Then remove lead_marker_attribute.",
        )
    mode = config.get("lead_mode") or "email"
    if mode == LEGACY_LEAD_MODE:
        mode = "key_attribute"
    if mode not in LEAD_MODES:
        raise ConfigError(
            "lead_mode", f"lead_mode must be one of {', '.join(LEAD_MODES)} (got {mode!r})."
        )
    if mode != "key_attribute":
        return mode, None
    asked = config.get("lead_mode")
    if not config.get("create_lead_key_attribute"):
        raise ConfigError(
            "create_lead_key_attribute",
            f"lead_mode: {asked} stores each created lead's e-mail in the contact attribute "
            "lead_key_attribute (creating it in the workspace when missing): set "
            "create_lead_key_attribute: true to allow that, or set lead_mode to email (match "
            "leads by e-mail, nothing created) or create.",
        )
    name = config.get("lead_key_attribute", DEFAULT_LEAD_KEY_ATTRIBUTE)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(
            "lead_key_attribute",
            f"lead_mode: {asked} needs lead_key_attribute, the name of a string contact "
            f"attribute (default {DEFAULT_LEAD_KEY_ATTRIBUTE}).",
        )
    return mode, name.strip()
