"""Contact fields: what a create/update body may hold, how it is validated, how it is searched.

Kept apart from the store so the rules read as a list (FACTS.md §2.1-2.3, §2.6; spec
schemas ``contact`` [S16:25222], ``create_contact_request`` [S16:28037],
``update_contact_request`` [S16:34772]).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.models.data_attributes import check_value

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

ROLES = ("user", "lead")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")

# Writable through POST/PUT /contacts, by JSON type.
WRITABLE_STRINGS = ("external_id", "email", "phone", "name", "avatar", "owner_id")
WRITABLE_TIMES = ("signed_up_at", "last_seen_at")
WRITABLE = frozenset(
    (
        "role",
        *WRITABLE_STRINGS,
        *WRITABLE_TIMES,
        "email_verified",
        "unsubscribed_from_emails",
        "custom_attributes",
    )
)

# Read-only contact fields (set by Intercom's own tracking): the model-level create/update
# used by seed data may set them, the HTTP API may not.
TRACKED_TIMES = (
    "last_replied_at",
    "last_contacted_at",
    "last_email_opened_at",
    "last_email_clicked_at",
    "android_last_seen_at",
    "ios_last_seen_at",
)
TRACKED_STRINGS = (
    "language_override",
    "browser",
    "browser_version",
    "browser_language",
    "os",
    "android_app_name",
    "android_app_version",
    "android_device",
    "android_os_version",
    "android_sdk_version",
    "ios_app_name",
    "ios_app_version",
    "ios_device",
    "ios_os_version",
    "ios_sdk_version",
    "utm_campaign",
    "utm_content",
    "utm_medium",
    "utm_source",
    "utm_term",
    "referrer",
)
TRACKED_BOOLS = ("has_hard_bounced", "marked_email_as_spam")
LOCATION_KEYS = ("country", "region", "city", "country_code", "continent_code")

# Rendered as plain (nullable) scalars, in the order of the spec's examples.
NULLABLE_TIMES = (
    "signed_up_at",
    "last_seen_at",
    "last_replied_at",
    "last_contacted_at",
    "last_email_opened_at",
    "last_email_clicked_at",
)
DEVICE_FIELDS = (
    "android_app_name",
    "android_app_version",
    "android_device",
    "android_os_version",
    "android_sdk_version",
    "android_last_seen_at",
    "ios_app_name",
    "ios_app_version",
    "ios_device",
    "ios_os_version",
    "ios_sdk_version",
    "ios_last_seen_at",
)
BROWSER_FIELDS = ("language_override", "browser", "browser_version", "browser_language", "os")
UTM_FIELDS = ("utm_campaign", "utm_content", "utm_medium", "utm_source", "utm_term", "referrer")

# Searchable fields and their types (FACTS.md §2.6 table, spellings as Intercom documents
# them, plus the correct spellings of the few it misspells).
SEARCH_FIELDS: dict[str, str] = {
    "id": "string",
    "role": "string",
    "name": "string",
    "avatar": "string",
    "owner_id": "string",
    "email": "string",
    "email_domain": "string",
    "phone": "string",
    "formatted_phone": "string",
    "external_id": "string",
    "created_at": "date",
    "signed_up_at": "date",
    "updated_at": "date",
    "last_seen_at": "date",
    "last_contacted_at": "date",
    "last_replied_at": "date",
    "last_email_opened_at": "date",
    "last_email_clicked_at": "date",
    "language_override": "string",
    "browser": "string",
    "browser_language": "string",
    "os": "string",
    "location.country": "string",
    "location.region": "string",
    "location.city": "string",
    "unsubscribed_from_emails": "boolean",
    "marked_email_as_spam": "boolean",
    "has_hard_bounced": "boolean",
    "ios_last_seen_at": "date",
    "ios_app_version": "string",
    "ios_device": "string",
    "ios_app_device": "string",
    "ios_os_version": "string",
    "ios_app_name": "string",
    "ios_sdk_version": "string",
    "android_last_seen_at": "date",
    "android_app_version": "string",
    "android_device": "string",
    "android_app_name": "string",
    "andoid_sdk_version": "string",  # sic, as documented [S16:8800]
    "android_sdk_version": "string",
    "segment_id": "tag",
    "tag_id": "tag",
}
# Search aliases: documented names that read another stored field.
SEARCH_ALIASES = {
    "formatted_phone": "phone",
    "ios_app_device": "ios_device",
    "andoid_sdk_version": "android_sdk_version",
}
# Data-attribute types -> search types.
DATA_TYPE_SEARCH = {
    "string": "string",
    "integer": "integer",
    "float": "float",
    "boolean": "boolean",
    "date": "date",
    "datetime": "date",
}


def _invalid(message: str, field: str) -> exc.ParameterInvalid:
    return exc.ParameterInvalid(message, field=field)


def validate_custom_attributes(backend: Backend, attrs: Any) -> dict[str, Any]:
    """Custom attributes must exist as contact data attributes and match their type (§2.2)."""
    if not isinstance(attrs, dict):
        raise _invalid("custom_attributes must be an object", "custom_attributes")
    for name, value in attrs.items():
        attr = backend.workspace.get_data_attribute("contact", name)
        if attr is None or not attr.get("custom", True):
            raise _invalid(f"Custom attribute '{name}' does not exist", f"custom_attributes.{name}")
        check_value(attr, name, value)  # type (and options) of the data attribute
    return dict(attrs)


def validate_write(backend: Backend, body: Any, *, creating: bool, api: bool) -> dict[str, Any]:
    """Check a create/update body and return the changes to store (record keys).

    ``api`` False is the model-level entry used by seed data: it may also set the fields
    Intercom tracks itself (browser, location, last_replied_at...); every other rule is
    the HTTP API's.
    """
    if not isinstance(body, dict):
        raise exc.ParameterInvalid("Request body must be a JSON object")
    out: dict[str, Any] = {}
    if creating and not any(k in body for k in ("email", "external_id", "role")):
        raise exc.ParameterNotFound(
            "One of email, external_id or role is required to create a contact", field="role"
        )
    if "role" in body:
        role = body["role"]
        if role not in ROLES:
            raise _invalid(f"role must be one of: {', '.join(ROLES)}", "role")
        out["role"] = role
    for key in WRITABLE_STRINGS:
        if key not in body:
            continue
        value = body[key]
        if (
            key in ("owner_id", "external_id")
            and isinstance(value, int)
            and not isinstance(value, bool)
        ):
            value = str(value)  # older clients send numbers (FACTS.md §2.1 owner_id)
        if value is not None and not isinstance(value, str):
            raise _invalid(f"{key} must be a string", key)
        if value == "" and key in ("email", "external_id"):
            value = None
        out[key] = value
    email = out.get("email")
    if email is not None:
        email = email.strip()
        if not EMAIL_RE.match(email):
            raise _invalid(f"The email '{email}' is not a valid email address", "email")
        out["email"] = email
    if "email" in out:
        out["email_domain"] = email.rsplit("@", 1)[1].lower() if email else None
    if "email_verified" in body:
        verified = body["email_verified"]
        if verified is not None and not isinstance(verified, bool):
            raise _invalid("email_verified must be true or false", "email_verified")
        if not body.get("email"):
            # New in 2.16: email_verified must come with an email [S16:28037].
            raise _invalid(
                "email_verified must be supplied together with an email", "email_verified"
            )
        out["_email_verified"] = verified
    for key in WRITABLE_TIMES:
        if key in body:
            value = body[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise _invalid(f"{key} must be a Unix timestamp (integer seconds)", key)
            out[key] = value
    if "unsubscribed_from_emails" in body:
        value = body["unsubscribed_from_emails"]
        if value is not None and not isinstance(value, bool):
            raise _invalid(
                "unsubscribed_from_emails must be true or false", "unsubscribed_from_emails"
            )
        out["unsubscribed_from_emails"] = bool(value)
    if body.get("custom_attributes") is not None:
        out["custom_attributes"] = validate_custom_attributes(backend, body["custom_attributes"])
    if not api:
        out.update(_tracked_fields(body))
    return out


def _tracked_fields(body: dict[str, Any]) -> dict[str, Any]:
    """The read-only fields a seed may set (model-level only)."""
    out: dict[str, Any] = {}
    for key in (*TRACKED_TIMES, "created_at", "updated_at"):
        if key in body:
            value = body[key]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise _invalid(f"{key} must be a Unix timestamp (integer seconds)", key)
            out[key] = value
    for key in TRACKED_STRINGS:
        if key in body:
            if body[key] is not None and not isinstance(body[key], str):
                raise _invalid(f"{key} must be a string", key)
            out[key] = body[key]
    for key in TRACKED_BOOLS:
        if key in body:
            out[key] = bool(body[key])
    if "location" in body:
        loc = body["location"]
        if loc is not None and not isinstance(loc, dict):
            raise _invalid("location must be an object", "location")
        out["location"] = {k: loc.get(k) for k in LOCATION_KEYS} if loc else None
    if "social_profiles" in body:
        profiles = body["social_profiles"] or []
        out["social_profiles"] = [
            {"type": "social_profile", "name": p.get("name"), "url": p.get("url")}
            for p in profiles
            if isinstance(p, dict)
        ]
    return out
