"""Data attributes: the built-in contact and company attributes plus custom ones (CDAs).

A custom attribute must exist before a contact or company can hold a value for it
(FACTS.md §2.2); ``get`` is how the contact and company stores check that.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.models.errors import FieldNotFound, ModelNotSupported

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

MODELS = ("contact", "company")
# Request data types [S16 create_data_attribute_request] -> the served `data_type`, whose
# enum has no datetime / options (a list attribute is a string attribute with options).
CREATE_TYPES = {
    "string": "string",
    "integer": "integer",
    "float": "float",
    "boolean": "boolean",
    "date": "date",
    "datetime": "date",
    "options": "string",
}
_MODEL_WORDS = {"contact": "people", "company": "company"}

# (full_name, label, data_type, api_writable). The company list follows the spec's
# example for GET /data_attributes?model=company [S16:14654]; the contact list follows the
# contact object's fields [S16:25222].
_BUILTIN: dict[str, list[tuple[str, str, str, bool]]] = {
    "company": [
        ("name", "Company name", "string", True),
        ("company_id", "Company ID", "string", False),
        ("last_request_at", "Company last seen", "date", False),
        ("remote_created_at", "Company created at", "date", True),
        ("user_count", "People", "integer", False),
        ("session_count", "Company web sessions", "integer", False),
        ("plan.name", "Plan", "string", False),
        ("monthly_spend", "Monthly Spend", "float", True),
        ("size", "Company size", "integer", True),
        ("industry", "Company industry", "string", True),
        ("website", "Company website", "string", True),
        ("id", "ID", "string", False),
        ("created_at", "Company created at (in Intercom)", "date", False),
        ("updated_at", "Company updated at", "date", False),
        ("plan.id", "Plan ID", "string", False),
        ("app_id", "App ID", "string", False),
    ],
    "contact": [
        ("name", "Name", "string", True),
        ("email", "Email", "string", True),
        ("email_domain", "Email domain", "string", False),
        ("phone", "Phone", "string", True),
        ("external_id", "User ID", "string", True),
        ("id", "ID", "string", False),
        ("role", "Role", "string", True),
        ("owner_id", "Owner", "integer", True),
        ("avatar", "Avatar", "string", True),
        ("created_at", "Signed up (in Intercom)", "date", False),
        ("signed_up_at", "Signed up", "date", True),
        ("updated_at", "Updated at", "date", False),
        ("last_seen_at", "Last seen", "date", True),
        ("last_replied_at", "Last replied", "date", False),
        ("last_contacted_at", "Last contacted", "date", False),
        ("last_email_opened_at", "Last opened email", "date", False),
        ("last_email_clicked_at", "Last clicked on link in email", "date", False),
        ("unsubscribed_from_emails", "Unsubscribed from emails", "boolean", True),
        ("marked_email_as_spam", "Marked email as spam", "boolean", False),
        ("has_hard_bounced", "Has hard bounced", "boolean", False),
        ("language_override", "Language override", "string", True),
        ("browser", "Browser", "string", False),
        ("browser_language", "Browser language", "string", False),
        ("os", "OS", "string", False),
        ("location.country", "Country", "string", False),
        ("location.region", "Region", "string", False),
        ("location.city", "City", "string", False),
    ],
}


def _builtin_records() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for model, rows in _BUILTIN.items():
        out[model] = [
            {
                "type": "data_attribute",
                "name": full.rsplit(".", 1)[-1],
                "full_name": full,
                "label": label,
                "description": label,
                "data_type": dtype,
                "api_writable": writable,
                "ui_writable": False,
                "messenger_writable": writable,
                "custom": False,
                "archived": False,
                "model": model,
            }
            for full, label, dtype, writable in rows
        ]
    return out


BUILTIN = _builtin_records()


def valid_name(name: str) -> bool:
    """Alphanumerics, spaces, hyphens, underscores and currency symbols [S16:14654 example]."""
    return bool(name.strip()) and all(
        ch.isalnum() or ch in " -_" or unicodedata.category(ch) == "Sc" for ch in name
    )


class DataAttributes:
    """Custom attributes by id and by (model, name); built-ins are static."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.by_id: dict[int, dict[str, Any]] = {}
        self._by_name: dict[tuple[str, str], dict[str, Any]] = {}
        self._next_id = 1

    # -- reads --------------------------------------------------------------------------
    def get(self, model: str, name: str) -> dict[str, Any] | None:
        """The live (not archived) custom attribute ``name`` of ``model``, else None."""
        rec = self._by_name.get((model, name))
        if rec is None or rec["archived"]:
            return None
        return rec

    def list(self, model: str | None, include_archived: bool = False) -> list[dict[str, Any]]:
        """Rendered built-ins then custom attributes, for one model or both."""
        if model == "conversation":
            raise ModelNotSupported()
        if model is not None and model not in MODELS:
            raise exc.ParameterInvalid(
                "The Data Attribute model field must be either contact or company", field="model"
            )
        models = MODELS if model is None else (model,)
        out: list[dict[str, Any]] = []
        for m in models:
            out.extend(BUILTIN[m])
        for rec in self.by_id.values():
            if rec["model"] in models and (include_archived or not rec["archived"]):
                out.append(self.render(rec))
        return out

    def render(self, rec: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in rec.items() if not k.startswith("_") and v is not None}

    # -- writes -------------------------------------------------------------------------
    def create(self, body: dict[str, Any], admin_id: str | None = None) -> dict[str, Any]:
        """POST /data_attributes: validate as Intercom does, then store."""
        model = body.get("model")
        if model not in MODELS:
            raise exc.ParameterInvalid(
                "The Data Attribute model field must be either contact or company", field="model"
            )
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise exc.ParameterInvalid("Name is required", field="name")
        if not valid_name(name):
            raise exc.ParameterInvalid(
                "Your name for this attribute must only contain alphanumeric characters, "
                "currency symbols, and hyphens",
                field="name",
            )
        data_type = body.get("data_type")
        if data_type not in CREATE_TYPES:
            raise exc.ParameterInvalid("Data Type isn't an option", field="data_type")
        # Names are unique across both models: the message names the model holding it.
        for m in MODELS:
            taken = (m, name) in self._by_name or any(b["full_name"] == name for b in BUILTIN[m])
            if taken:
                raise exc.ParameterInvalid(
                    f"You already have '{name}' in your {_MODEL_WORDS[m]} data. To save this "
                    f"as new {_MODEL_WORDS[model]} data, use a different name.",
                    field="name",
                )
        options = None
        if data_type == "options" or "options" in body:
            options = self._options(body.get("options"))
        description = body.get("description")
        if description is not None and not isinstance(description, str):
            raise exc.ParameterInvalid("description must be a string", field="description")
        messenger_writable = body.get("messenger_writable", False)
        if not isinstance(messenger_writable, bool):
            raise exc.ParameterInvalid(
                "messenger_writable must be true or false", field="messenger_writable"
            )
        now = self.backend.now()
        rec: dict[str, Any] = {
            "id": self._next_id,
            "type": "data_attribute",
            "name": name,
            "full_name": f"custom_attributes.{name}",
            "label": name,
            "description": description,
            "data_type": CREATE_TYPES[data_type],
            "options": options,
            "api_writable": True,
            "ui_writable": False,
            "messenger_writable": messenger_writable,
            "custom": True,
            "archived": False,
            "admin_id": admin_id,
            "created_at": now,
            "updated_at": now,
            "model": model,
        }
        self._next_id += 1
        self.by_id[rec["id"]] = rec
        self._by_name[(model, name)] = rec
        return rec

    def update(self, attribute_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT /data_attributes/{id}: archived, description, messenger_writable, options."""
        try:
            rec = self.by_id.get(int(attribute_id))
        except ValueError:
            rec = None
        if rec is None:
            raise FieldNotFound()
        if "options" in body:
            rec["options"] = self._options(body["options"])
        if "archived" in body:
            if not isinstance(body["archived"], bool):
                raise exc.ParameterInvalid("archived must be true or false", field="archived")
            rec["archived"] = body["archived"]
        if "description" in body:
            if not isinstance(body["description"], str):
                raise exc.ParameterInvalid("description must be a string", field="description")
            rec["description"] = body["description"]
        if "messenger_writable" in body:
            if not isinstance(body["messenger_writable"], bool):
                raise exc.ParameterInvalid(
                    "messenger_writable must be true or false", field="messenger_writable"
                )
            rec["messenger_writable"] = body["messenger_writable"]
        rec["updated_at"] = self.backend.now()
        return rec

    @staticmethod
    def _options(raw: Any) -> list[str]:
        if not isinstance(raw, list):
            raise exc.ParameterInvalid("Options isn't an array", field="options")
        values = []
        for item in raw:
            value = item.get("value") if isinstance(item, dict) else None
            if not isinstance(value, str) or not value:
                raise exc.ParameterInvalid(
                    "Each option must be an object with a string 'value'", field="options"
                )
            values.append(value)
        if len(values) < 2:
            raise exc.ParameterInvalid("At least two options are required", field="options")
        return values

    def dump(self) -> list[dict[str, Any]]:
        return [self.render(r) for r in self.by_id.values()]


def check_value(attr: dict[str, Any], name: str, value: Any) -> None:
    """400 unless ``value`` fits the custom attribute's data type (None clears it)."""
    if value is None:
        return
    dtype = attr["data_type"]
    ok = {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "date": isinstance(value, int) and not isinstance(value, bool),
    }.get(dtype, True)
    if not ok:
        raise exc.ParameterInvalid(
            f"Custom attribute '{name}' is of type {dtype}; got {type(value).__name__} {value!r}",
            field=f"custom_attributes.{name}",
        )
    options = attr.get("options")
    if options and value not in options:
        raise exc.ParameterInvalid(
            f"'{value}' is not an option of custom attribute '{name}' ({', '.join(options)})",
            field=f"custom_attributes.{name}",
        )
