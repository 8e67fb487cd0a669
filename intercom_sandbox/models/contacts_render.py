"""How a contact record is served: the spec's ``contact`` object [S16:25222].

Plus the fields every response example carries but the schema omits (FACTS.md §2.1):
opted_in/opted_out_subscription_types, utm_*, referrer, and ``enabled_push_messaging`` on
single-contact responses. Rendering is the per-contact cost of every list and search page,
so it copies a template of the ~60 keys and overwrites only what the sparse record holds.
"""

from __future__ import annotations

from typing import Any

from intercom_sandbox.models.contacts_fields import (
    BROWSER_FIELDS,
    DEVICE_FIELDS,
    LOCATION_KEYS,
    NULLABLE_TIMES,
    UTM_FIELDS,
)

EMBEDDED_MAX = 10  # "Up to 10 will be displayed here. Use the url to get more."

# Record keys served under the same name, unchanged.
DIRECT = frozenset(
    [
        "external_id",
        "role",
        "phone",
        "name",
        "owner_id",
        "has_hard_bounced",
        "marked_email_as_spam",
        "unsubscribed_from_emails",
        "created_at",
        "updated_at",
        *NULLABLE_TIMES,
        *BROWSER_FIELDS,
        *DEVICE_FIELDS,
        *UTM_FIELDS,
    ]
)


def template(workspace_id: str) -> dict[str, Any]:
    """Every key of a served contact in the order of the spec's examples, with defaults."""
    out: dict[str, Any] = {
        "type": "contact",
        "id": None,
        "workspace_id": workspace_id,
        "external_id": None,
        "role": "user",
        # `email` is a non-nullable string in the spec: "" when the contact has none.
        "email": "",
        "email_domain": "",
        "phone": None,
        "name": None,
        "avatar": None,
        "owner_id": None,
        "social_profiles": None,
        "has_hard_bounced": False,
        "marked_email_as_spam": False,
        "unsubscribed_from_emails": False,
        "created_at": None,
        "updated_at": None,
    }
    out.update(dict.fromkeys(NULLABLE_TIMES))
    out.update(dict.fromkeys(BROWSER_FIELDS))
    out["location"] = None
    out.update(dict.fromkeys(DEVICE_FIELDS))
    for key in (
        "custom_attributes",
        "tags",
        "notes",
        "companies",
        "opted_out_subscription_types",
        "opted_in_subscription_types",
    ):
        out[key] = None
    out.update(dict.fromkeys(UTM_FIELDS))
    return out


def embedded(cid: str, name: str, kind: str, base: str, ids: list[str]) -> dict[str, Any]:
    """A contact's tags / notes / companies: at most 10 references and the url for more."""
    if not ids:
        return {
            "type": "list",
            "data": [],
            "url": f"/contacts/{cid}/{name}",
            "total_count": 0,
            "has_more": False,
        }
    return {
        "type": "list",
        "data": [{"type": kind, "id": i, "url": f"{base}/{i}"} for i in ids[:EMBEDDED_MAX]],
        "url": f"/contacts/{cid}/{name}",
        "total_count": len(ids),
        "has_more": len(ids) > EMBEDDED_MAX,
    }


def render_contact(
    contact: dict[str, Any],
    base: dict[str, Any],
    tag_ids: list[str],
    company_ids: list[str],
    *,
    single: bool = False,
    merge_history: bool = False,
) -> dict[str, Any]:
    """The served contact; ``base`` is ``template(workspace_id)``, ids are the live ones."""
    out = base.copy()
    for key, value in contact.items():
        if key in DIRECT:
            out[key] = value
    cid = contact["id"]
    out["id"] = cid
    email = contact.get("email")
    if email:
        out["email"] = email
        out["email_domain"] = contact.get("email_domain") or ""
    avatar = contact.get("avatar")
    if avatar:
        out["avatar"] = {"type": "avatar", "image_url": avatar}
    out["social_profiles"] = {"type": "list", "data": contact.get("social_profiles") or []}
    loc = contact.get("location")
    if loc:
        out["location"] = {"type": "location", **{k: loc.get(k) for k in LOCATION_KEYS}}
    else:
        out["location"] = {
            "type": "location",
            "country": None,
            "region": None,
            "city": None,
            "country_code": None,
            "continent_code": None,
        }
    custom = contact.get("custom_attributes")
    out["custom_attributes"] = custom if custom is not None else {}
    out["tags"] = embedded(cid, "tags", "tag", "/tags", tag_ids)
    notes = contact.get("_notes")
    out["notes"] = embedded(cid, "notes", "note", "/notes", list(reversed(notes)) if notes else [])
    out["companies"] = embedded(cid, "companies", "company", "/companies", company_ids)
    subscriptions = {
        "type": "list",
        "data": [],
        "url": f"/contacts/{cid}/subscriptions",
        "total_count": 0,
        "has_more": False,
    }
    out["opted_out_subscription_types"] = subscriptions
    out["opted_in_subscription_types"] = subscriptions
    if single:
        out["enabled_push_messaging"] = None
    if merge_history and contact["role"] == "user":
        out["merge_history"] = list(contact.get("_merge_history", ()))
    return out
