"""The target's settings: the config schema (documented by ``--about``) and typed options.

Connection settings carry the same names, defaults and meaning as the tap's (see
``intercom_api.ClientSettings``), so one Meltano config block can serve both plugins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from singer_sdk import typing as th

from intercom_api.config_schema import connection_properties
from intercom_api.errors import ConfigError

STREAMS = ("users", "leads", "companies", "events")

CONNECTION_SETTINGS = th.PropertiesList(
    *connection_properties(
        max_workers_description="Writes run on this many threads, all under the shared rate "
        "limiter (at 100 ms of latency, about 14 fill a budget of 8,000/min)."
    )
)

TARGET_SETTINGS = th.PropertiesList(
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description="Read and match only: search Intercom, decide each record's outcome, log "
        "what would be written, and write nothing (no contact, company, tag, attribute or "
        "event is created or changed).",
    ),
    th.Property(
        "rejects_file",
        th.StringType,
        default="target-intercom.rejects.jsonl",
        description="JSON-lines file that receives every rejected record (appended): the "
        "record as received, its stream, the reason, and Intercom's error code and request id.",
    ),
    th.Property(
        "max_rejects",
        th.IntegerType,
        description="Fail the run once more than this many records are rejected (0: the first "
        "reject fails it). Unset: rejects never fail the run; they only go to rejects_file.",
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
        "attributes that do not exist).",
    ),
    th.Property(
        "lead_mode",
        th.StringType,
        default="idempotent",
        allowed_values=["idempotent", "create"],
        description="leads stream: 'idempotent' updates a lead this target already created "
        "with the same e-mail instead of creating a second one (Singer delivery is "
        "at-least-once); 'create' always creates a new lead.",
    ),
    th.Property(
        "lead_marker_attribute",
        th.StringType,
        default="target_intercom_key",
        description="Custom attribute (string, created when missing) in which the target "
        "stamps the leads it creates, so that re-delivered records update them. Empty: "
        "match any lead with the same e-mail instead.",
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
    rejects_file: str = "target-intercom.rejects.jsonl"
    max_rejects: int | None = None
    extra_columns: str = "custom_attributes"
    create_custom_attributes: bool = False
    lead_mode: str = "idempotent"
    lead_marker_attribute: str | None = "target_intercom_key"
    delete_mode: str = "archive"
    reconcile_timeout: float = 300.0

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
        rejects_file = config.get("rejects_file") or cls.rejects_file
        marker = config.get("lead_marker_attribute", cls.lead_marker_attribute)
        return cls(
            dry_run=bool(config.get("dry_run", False)),
            rejects_file=str(rejects_file),
            max_rejects=max_rejects,
            extra_columns=choice(
                "extra_columns", ("custom_attributes", "ignore"), cls.extra_columns
            ),
            create_custom_attributes=bool(config.get("create_custom_attributes", False)),
            lead_mode=choice("lead_mode", ("idempotent", "create"), cls.lead_mode),
            lead_marker_attribute=str(marker) if marker else None,
            delete_mode=choice("delete_mode", ("archive", "delete", "ignore"), cls.delete_mode),
            reconcile_timeout=float(timeout),
        )
