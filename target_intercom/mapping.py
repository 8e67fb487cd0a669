"""Record -> Intercom request fields: validation and conversion shared by every sink.

Input comes from CSV files and databases as often as from taps, so values are accepted in
their common spellings: timestamps as ISO 8601 or unix seconds, booleans as ``true``/``1``/
``yes``, id lists as a list or a comma-separated string. ``None`` and ``""`` mean "not
provided" (a CSV's empty cell): the field is left as it is in Intercom. Every problem
raises ``RecordRejected`` with a reason naming the field and the fix.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from intercom_schemas import load_schema

from target_intercom.outcomes import RecordRejected

# Intercom accepts only whole seconds (FACTS.md §8); larger values are milliseconds by mistake.
_MAX_UNIX_SECONDS = 100_000_000_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}
DELETED_AT = "_sdc_deleted_at"


def _schema_fields(stream: str) -> tuple[frozenset[str], frozenset[str]]:
    """(writable, read-only) fields of a stream's schema file: ``readOnly`` marks the fields
    Intercom sets itself (schemas/contacts.json, schemas/companies.json)."""
    props = load_schema(stream)["properties"]
    read_only = frozenset(n for n, p in props.items() if p.get("readOnly"))
    return frozenset(props) - read_only, read_only


# Contact fields come from the schema the tap reads (a record coming back from tap-intercom
# carries the read-only ones: they are ignored, not sent as custom attributes). Besides
# them, the original (1.x) connector's names: writable aliases of 2.x fields, and 1.x fields
# that no longer exist (FACTS.md §9); plus ``archived`` (exports) and ``formatted_phone``
# (Preview, FACTS.md §2.1).
LEGACY_CONTACT_FIELDS = frozenset({"user_id", "image_url", "last_request_at"})
LEGACY_READ_ONLY_CONTACT_FIELDS = frozenset(
    {"location_data", "session_count", "pseudonym", "anonymous", "archived", "formatted_phone"}
)
_CONTACT_WRITABLE, _CONTACT_READ_ONLY = _schema_fields("users")
CONTACT_FIELDS = _CONTACT_WRITABLE | LEGACY_CONTACT_FIELDS
READ_ONLY_CONTACT_FIELDS = _CONTACT_READ_ONLY | LEGACY_READ_ONLY_CONTACT_FIELDS
_COMPANY_WRITABLE, READ_ONLY_COMPANY_FIELDS = _schema_fields("companies")
# Contact fields PUT /contacts documents as nullable: clear_on_null may clear them [S16:34772].
CLEARABLE_CONTACT_FIELDS = (
    "name",
    "phone",
    "avatar",
    "signed_up_at",
    "last_seen_at",
    "owner_id",
    "unsubscribed_from_emails",
)


# -- scalar conversions ------------------------------------------------------------------


def blank(value: Any) -> bool:
    """None or an empty / whitespace-only string: "not provided"."""
    return value is None or (isinstance(value, str) and not value.strip())


def to_unix(value: Any, name: str) -> int:
    """ISO 8601 text, a date/datetime, or unix seconds -> unix seconds (UTC when naive)."""
    if isinstance(value, bool):
        raise RecordRejected(f"{name}={value!r} is not a timestamp: send ISO 8601 or unix seconds")
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
        return int(aware.timestamp())
    if isinstance(value, dt.date):
        return int(
            dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc).timestamp()
        )
    if isinstance(value, str) and _NUMBER.match(value.strip()):
        value = Decimal(value.strip())
    if isinstance(value, (int, float, Decimal)):
        if value < 0 or value >= _MAX_UNIX_SECONDS:
            raise RecordRejected(
                f"{name}={value} is out of range for unix seconds (milliseconds?): send "
                "unix seconds or ISO 8601"
            )
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                return to_unix(dt.date.fromisoformat(text), name)
            except ValueError:
                raise RecordRejected(
                    f"{name}={value!r} is not a timestamp: send ISO 8601 (2024-05-01T12:00:00Z) "
                    "or unix seconds"
                ) from None
        return to_unix(parsed, name)
    raise RecordRejected(f"{name} has type {type(value).__name__}: send ISO 8601 or unix seconds")


def to_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RecordRejected(f"{name}={value!r} is not a boolean: send true or false")


def to_int(value: Any, name: str, *, maximum: int | None = None) -> int:
    """A whole number; floats are truncated (as Intercom does for monthly_spend, §4)."""
    if isinstance(value, bool):
        raise RecordRejected(f"{name}={value!r} is not a number")
    try:
        number = int(Decimal(str(value).strip()))
    except (ArithmeticError, ValueError):
        raise RecordRejected(f"{name}={value!r} is not a number") from None
    if maximum is not None and number > maximum:
        raise RecordRejected(f"{name}={number} is above Intercom's limit of {maximum}")
    return number


def to_text(value: Any, name: str) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    raise RecordRejected(f"{name} must be text (got {type(value).__name__})")


def plain(value: Any, name: str) -> Any:
    """A custom attribute / metadata value as JSON Intercom accepts: str, number, bool, null."""
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return value
    if isinstance(value, (dt.datetime, dt.date)):
        return to_unix(value, name)
    raise RecordRejected(
        f"{name} holds a {type(value).__name__}; Intercom attributes take a string, a number, "
        "a boolean or a timestamp: flatten it (stream_maps) or drop the column"
    )


def normalize_email(value: Any, name: str = "email") -> str:
    """A stripped e-mail address, or RecordRejected naming the bad value."""
    if not isinstance(value, str):
        raise RecordRejected(f"{name} must be text (got {type(value).__name__})")
    email = value.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise RecordRejected(f"{name}={value!r} is not a valid e-mail address")
    return email


def email_key(email: str) -> str:
    """The form e-mails are compared in (Intercom matches them case-insensitively)."""
    return email.strip().lower()


def split_list(value: Any, name: str, *, keys: tuple[str, ...] = ()) -> list[str]:
    """One value, a list, a comma-separated string, or the list objects Intercom returns."""
    if blank(value):
        return []
    if isinstance(value, Mapping):  # {"type": "list", "data": [...]} as the tap reads it
        for list_key in ("data", "companies", "tags"):
            if isinstance(value.get(list_key), list):
                return split_list(value[list_key], name, keys=keys)
        value = [value]
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                return split_list(json.loads(text), name, keys=keys)
            except json.JSONDecodeError:
                pass
        items: Iterable[Any] = text.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        items = [value]
    out: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            item = next((item[k] for k in keys if not blank(item.get(k))), None)
            if item is None:
                raise RecordRejected(f"{name}: an entry has none of the keys {', '.join(keys)}")
        if blank(item):
            continue
        text = to_text(item, name)
        if text not in out:
            out.append(text)
    return out


def custom_attribute_object(value: Any, name: str) -> dict[str, Any]:
    """The ``custom_attributes`` column: an object, or an object serialised as JSON text."""
    if blank(value):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise RecordRejected(f"{name} is text but not a JSON object") from None
    if not isinstance(value, Mapping):
        raise RecordRejected(f"{name} must be an object of attribute names to values")
    return {str(k): plain(v, f"{name}.{k}") for k, v in value.items()}


def reads_as_timestamp(value: Any) -> bool:
    """Whether ``value`` is a timestamp ``to_unix`` accepts (ISO 8601 or unix seconds)."""
    if value is None or isinstance(value, bool) or (isinstance(value, str) and not value.strip()):
        return False
    try:
        to_unix(value, "value")
    except RecordRejected:
        return False
    return True


def event_metadata_dates(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata with timestamps under ``*_date`` keys in unix seconds: Intercom stores
    those as dates [S16:16059], and ISO text as a plain string."""
    return {
        k: to_unix(v, k) if k.endswith("_date") and reads_as_timestamp(v) else v
        for k, v in metadata.items()
    }


def is_deleted(record: Mapping[str, Any]) -> bool:
    return not blank(record.get(DELETED_AT))


def extra_columns(
    record: Mapping[str, Any], known: Iterable[str], read_only: frozenset[str]
) -> dict[str, Any]:
    """Columns that are neither known fields, read-only fields nor Singer metadata."""
    known_set = set(known)
    return {
        k: v
        for k, v in record.items()
        if k not in known_set and k not in read_only and not k.startswith("_sdc_")
    }


# -- contacts ----------------------------------------------------------------------------


@dataclass
class ContactInput:
    """A users/leads record, checked and converted.

    A ``None`` in ``fields`` or ``custom_attributes`` clears that field (``clear_on_null``,
    or a null inside the record's ``custom_attributes`` object); creates leave it out.
    """

    email: str | None
    external_id: str | None
    fields: dict[str, Any]  # standard writable fields other than email / external_id
    custom_attributes: dict[str, Any]
    companies: list[str]
    tags: list[str]
    deleted: bool
    ignored: list[str] = field(default_factory=list)
    tag_ids: list[str] = field(default_factory=list)  # filled in once tags are resolved

    def body(self) -> dict[str, Any]:
        """Every field to set, as an update body (without role); None clears."""
        body: dict[str, Any] = {}
        if self.email is not None:
            body["email"] = self.email
        if self.external_id is not None:
            body["external_id"] = self.external_id
        body.update(self.fields)
        if self.custom_attributes:
            body["custom_attributes"] = dict(self.custom_attributes)
        return body

    def create_body(self) -> dict[str, Any]:
        """The fields a create sets: a new contact has nothing to clear."""
        body = {k: v for k, v in self.body().items() if v is not None}
        custom = {k: v for k, v in body.pop("custom_attributes", {}).items() if v is not None}
        if custom:
            body["custom_attributes"] = custom
        return body


def custom_and_ignored(
    record: Mapping[str, Any], known: Any, read_only: Any, extra: str, *, nulls: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """The record's custom attributes (its own plus, by ``extra_columns``, its other
    columns) and the columns ignored. ``nulls``: a column present with null is kept (None:
    clear it); else null and empty mean "not provided"."""
    custom = custom_attribute_object(record.get("custom_attributes"), "custom_attributes")
    others = extra_columns(record, known, read_only)
    if extra != "custom_attributes":
        return custom, sorted(others)
    for name, value in others.items():
        if not blank(value):
            custom.setdefault(name, plain(value, name))
        elif value is None and nulls:
            custom.setdefault(name, None)
    return custom, []


def _null(record: Mapping[str, Any], *names: str) -> bool:
    """Some of ``names`` is present with null and none of them has a value."""
    return any(n in record and record[n] is None for n in names) and all(
        blank(record.get(n)) for n in names
    )


def map_contact(
    record: Mapping[str, Any], role: str, *, extra: str, clear_on_null: bool = False
) -> ContactInput:
    """Check and convert a users (role user) or leads (role lead) record."""
    given_role = record.get("role")
    if not blank(given_role) and given_role != role:
        other = "leads" if role == "user" else "users"
        raise RecordRejected(
            f"role={given_role!r} in the {role}s stream: send it to the {other} stream "
            "(or rename the stream with stream_maps)"
        )
    email = None if blank(record.get("email")) else normalize_email(record["email"])
    ext = _one_of(record, "external_id", "user_id")
    external_id = None if ext is None else to_text(ext, "external_id")
    if role == "user" and email is None and external_id is None:
        raise RecordRejected(
            "missing key: a users record needs email or external_id (user_id) to be matched"
        )
    if role == "lead" and email is None:
        raise RecordRejected("missing email: a leads record needs an e-mail address")

    fields: dict[str, Any] = {}
    for name in ("name", "phone"):
        if not blank(record.get(name)):
            fields[name] = to_text(record[name], name)
    avatar = _one_of(record, "avatar", "image_url")
    if isinstance(avatar, Mapping):
        avatar = avatar.get("image_url")
    if not blank(avatar):
        fields["avatar"] = to_text(avatar, "avatar")
    if not blank(record.get("signed_up_at")):
        fields["signed_up_at"] = to_unix(record["signed_up_at"], "signed_up_at")
    last_seen = _one_of(record, "last_seen_at", "last_request_at")
    if last_seen is not None:
        fields["last_seen_at"] = to_unix(last_seen, "last_seen_at")
    if not blank(record.get("owner_id")):
        fields["owner_id"] = to_text(record["owner_id"], "owner_id")
    if not blank(record.get("unsubscribed_from_emails")):
        fields["unsubscribed_from_emails"] = to_bool(
            record["unsubscribed_from_emails"], "unsubscribed_from_emails"
        )
    if clear_on_null:
        aliases = {"avatar": ("image_url",), "last_seen_at": ("last_request_at",)}
        for name in CLEARABLE_CONTACT_FIELDS:
            if name not in fields and _null(record, name, *aliases.get(name, ())):
                fields[name] = None

    custom, ignored = custom_and_ignored(
        record, CONTACT_FIELDS, READ_ONLY_CONTACT_FIELDS, extra, nulls=clear_on_null
    )
    return ContactInput(
        email=email,
        external_id=external_id,
        fields=fields,
        custom_attributes=custom,
        companies=split_list(record.get("companies"), "companies", keys=("company_id", "id")),
        tags=split_list(record.get("tags"), "tags", keys=("name",)),
        deleted=is_deleted(record),
        ignored=ignored,
    )


def _one_of(record: Mapping[str, Any], name: str, alias: str) -> Any:
    """A field that also has a legacy name (1.x API): both may be given only if equal."""
    value = None if blank(record.get(name)) else record[name]
    other = None if blank(record.get(alias)) else record[alias]
    if value is not None and other is not None and str(value).strip() != str(other).strip():
        raise RecordRejected(
            f"{name}={value!r} and {alias}={other!r} disagree: {alias} is the old name of "
            f"{name}; send one of them"
        )
    return value if value is not None else other


# -- companies ---------------------------------------------------------------------------

_INT32_MAX = 2**31 - 1


@dataclass
class CompanyInput:
    company_id: str
    fields: dict[str, Any]
    custom_attributes: dict[str, Any]
    deleted: bool
    ignored: list[str] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"company_id": self.company_id, **self.fields}
        if self.custom_attributes:
            body["custom_attributes"] = dict(self.custom_attributes)
        return body


def map_company(record: Mapping[str, Any], *, extra: str) -> CompanyInput:
    if blank(record.get("company_id")):
        raise RecordRejected("missing key: a companies record needs company_id (your company id)")
    fields: dict[str, Any] = {}
    for name in ("name", "website", "industry"):
        if not blank(record.get(name)):
            fields[name] = to_text(record[name], name)
    plan = record.get("plan")
    if isinstance(plan, Mapping):  # the tap reads plan as {"type": "plan", "id", "name"}
        plan = plan.get("name")
    if not blank(plan):
        fields["plan"] = to_text(plan, "plan")
    if not blank(record.get("size")):
        fields["size"] = to_int(record["size"], "size")
    if not blank(record.get("monthly_spend")):
        fields["monthly_spend"] = to_int(
            record["monthly_spend"], "monthly_spend", maximum=_INT32_MAX
        )
    if not blank(record.get("remote_created_at")):
        fields["remote_created_at"] = to_unix(record["remote_created_at"], "remote_created_at")
    custom, ignored = custom_and_ignored(record, _COMPANY_WRITABLE, READ_ONLY_COMPANY_FIELDS, extra)
    return CompanyInput(
        company_id=to_text(record["company_id"], "company_id"),
        fields=fields,
        custom_attributes=custom,
        deleted=is_deleted(record),
        ignored=ignored,
    )


# -- events ------------------------------------------------------------------------------

EVENT_FIELDS = (
    "event_name",
    "created_at",
    "user_id",
    "external_id",
    "id",
    "intercom_user_id",
    "email",
    "metadata",
)
MAX_METADATA_KEYS = 10  # FACTS.md §4: Intercom silently drops keys past 10


@dataclass
class EventInput:
    body: dict[str, Any]
    deleted: bool
    ignored: list[str] = field(default_factory=list)

    @property
    def contact(self) -> tuple[str, str]:
        """How the event names its contact: ("user_id" | "id" | "email", value)."""
        for key in ("user_id", "id", "email"):
            if key in self.body:
                return key, str(self.body[key])
        raise KeyError("contact")  # map_event always sets one


def map_event(record: Mapping[str, Any], *, extra: str) -> EventInput:
    if blank(record.get("event_name")):
        raise RecordRejected("missing event_name")
    if blank(record.get("created_at")):
        raise RecordRejected(
            "missing created_at: Intercom needs it, and it is part of the key that makes a "
            "re-sent event a no-op"
        )
    body: dict[str, Any] = {
        "event_name": to_text(record["event_name"], "event_name"),
        "created_at": to_unix(record["created_at"], "created_at"),
    }
    user_id = _one_of(record, "user_id", "external_id")
    intercom_id = _one_of(record, "id", "intercom_user_id")
    if user_id is not None:
        body["user_id"] = to_text(user_id, "user_id")
    elif intercom_id is not None:
        body["id"] = to_text(intercom_id, "id")
    elif not blank(record.get("email")):
        body["email"] = normalize_email(record["email"])
    else:
        raise RecordRejected(
            "missing key: an events record needs user_id (external_id), id or email to name "
            "its contact"
        )
    metadata = custom_attribute_object(record.get("metadata"), "metadata")
    others = extra_columns(record, EVENT_FIELDS, frozenset({"type"}))
    ignored: list[str] = []
    if extra == "custom_attributes":
        for name, value in others.items():
            if not blank(value):
                metadata.setdefault(name, plain(value, name))
    else:
        ignored = sorted(others)
    if len(metadata) > MAX_METADATA_KEYS:
        raise RecordRejected(
            f"{len(metadata)} metadata keys ({', '.join(sorted(metadata))}): Intercom keeps "
            f"only {MAX_METADATA_KEYS} and drops the rest silently; send at most "
            f"{MAX_METADATA_KEYS} (extra_columns=ignore drops extra columns)"
        )
    if metadata:
        body["metadata"] = event_metadata_dates(metadata)
    return EventInput(body=body, deleted=is_deleted(record), ignored=ignored)
