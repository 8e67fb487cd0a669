"""Record -> Intercom field mapping: accepted spellings and the reasons for rejects."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from intercom_schemas import load_schema, schema_names

from target_intercom.mapping import (
    map_company,
    map_contact,
    map_event,
    split_list,
    to_bool,
    to_unix,
)
from target_intercom.outcomes import RecordRejected
from target_intercom.settings import TargetOptions
from target_intercom.sinks.contacts import contact_changes

T = 1714564800  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01T12:00:00+00:00",
        "2024-05-01T14:00:00+02:00",
        "2024-05-01T12:00:00",  # naive: UTC
        T,
        str(T),
        Decimal(T),
        float(T),
        dt.datetime(2024, 5, 1, 12, tzinfo=dt.timezone.utc),
    ],
)
def test_timestamps_in_every_spelling(value: Any) -> None:
    assert to_unix(value, "signed_up_at") == T


def test_date_only_is_midnight_utc() -> None:
    assert to_unix("2024-05-01", "x") == T - 12 * 3600


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("yesterday", "not a timestamp"),
        (T * 1000, "milliseconds"),
        (-5, "out of range"),
        (True, "not a timestamp"),
        ([T], "type list"),
    ],
)
def test_bad_timestamps_name_the_field(value: Any, reason: str) -> None:
    with pytest.raises(RecordRejected, match=reason) as err:
        to_unix(value, "last_seen_at")
    assert "last_seen_at" in str(err.value)


@pytest.mark.parametrize(
    ("value", "want"), [("true", True), ("No", False), (1, True), (False, False)]
)
def test_booleans(value: Any, want: bool) -> None:
    assert to_bool(value, "b") is want


def test_boolean_rejects_other_text() -> None:
    with pytest.raises(RecordRejected, match="not a boolean"):
        to_bool("maybe", "unsubscribed_from_emails")


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("acme", ["acme"]),
        ("acme, globex ,acme", ["acme", "globex"]),
        (["acme", "globex"], ["acme", "globex"]),
        ('["a", "b"]', ["a", "b"]),
        ([{"company_id": "acme"}, {"id": "5f1"}], ["acme", "5f1"]),
        ({"type": "list", "data": [{"type": "company", "id": "5f1"}]}, ["5f1"]),
        (42, ["42"]),
        ("", []),
        (None, []),
    ],
)
def test_company_lists(value: Any, want: list[str]) -> None:
    assert split_list(value, "companies", keys=("company_id", "id")) == want


def test_contact_original_and_2x_keys() -> None:
    record = {
        "email": " Ada@Example.com ",
        "user_id": 1001,
        "name": "Ada",
        "phone": "",  # a CSV's empty cell: not provided
        "image_url": "https://example.com/a.png",
        "last_request_at": "2024-05-01T12:00:00Z",
        "owner_id": 77,
        "unsubscribed_from_emails": "yes",
        "custom_attributes": '{"tier": "gold"}',
        "plan": "pro",
        "id": "5f1",  # read-only (a tap round-trip): ignored, not a custom attribute
        "_sdc_extracted_at": "2024-05-01",
    }
    inp = map_contact(record, "user", extra="custom_attributes")
    assert inp.email == "Ada@Example.com" and inp.external_id == "1001"
    assert inp.body() == {
        "email": "Ada@Example.com",
        "external_id": "1001",
        "name": "Ada",
        "avatar": "https://example.com/a.png",
        "last_seen_at": T,
        "owner_id": "77",
        "unsubscribed_from_emails": True,
        "custom_attributes": {"tier": "gold", "plan": "pro"},
    }


def test_extra_columns_ignored_when_asked() -> None:
    inp = map_contact({"email": "a@b.co", "plan": "pro"}, "user", extra="ignore")
    assert inp.custom_attributes == {} and inp.ignored == ["plan"]


@pytest.mark.parametrize(
    ("record", "role", "reason"),
    [
        ({"name": "x"}, "user", "missing key"),
        ({"user_id": "1"}, "lead", "missing email"),
        ({"email": "nope"}, "user", "not a valid e-mail"),
        ({"email": "a@b.co", "user_id": "1", "external_id": "2"}, "user", "disagree"),
        ({"email": "a@b.co", "role": "lead"}, "user", "leads stream"),
        ({"email": "a@b.co", "nested": {"a": 1}}, "user", "holds a dict"),
        ({"email": "a@b.co", "custom_attributes": "not json"}, "user", "not a JSON object"),
    ],
)
def test_contact_rejects(record: dict[str, Any], role: str, reason: str) -> None:
    with pytest.raises(RecordRejected, match=reason):
        map_contact(record, role, extra="custom_attributes")


def test_unchanged_contact_has_no_changes() -> None:
    inp = map_contact(
        {"email": "A@B.co", "name": "Ada", "owner_id": 7, "avatar": "https://x/a.png", "tier": 1},
        "user",
        extra="custom_attributes",
    )
    contact = {
        "email": "a@b.co",
        "name": "Ada",
        "owner_id": "7",
        "avatar": {"type": "avatar", "image_url": "https://x/a.png"},
        "custom_attributes": {"tier": 1, "other": "kept"},
    }
    assert contact_changes(inp, contact) == {}
    contact["custom_attributes"]["tier"] = 2
    assert contact_changes(inp, contact) == {"custom_attributes": {"tier": 1}}


def test_company_mapping() -> None:
    inp = map_company(
        {
            "company_id": 12,
            "plan": {"type": "plan", "name": "pro"},
            "monthly_spend": "155.98",
            "size": "50",
            "tier": "gold",
            "user_count": 3,
        },
        extra="custom_attributes",
    )
    assert inp.body() == {
        "company_id": "12",
        "plan": "pro",
        "size": 50,
        "monthly_spend": 155,
        "custom_attributes": {"tier": "gold"},
    }
    with pytest.raises(RecordRejected, match="above Intercom's limit"):
        map_company({"company_id": "x", "monthly_spend": 2**31}, extra="ignore")


def test_event_mapping() -> None:
    event = map_event(
        {"user_id": "u1", "event_name": "paid", "created_at": "2024-05-01T12:00:00Z", "n": 2},
        extra="custom_attributes",
    )
    assert event.body == {
        "event_name": "paid",
        "created_at": T,
        "user_id": "u1",
        "metadata": {"n": 2},
    }
    with pytest.raises(RecordRejected, match="missing created_at"):
        map_event({"email": "a@b.co", "event_name": "x"}, extra="ignore")
    with pytest.raises(RecordRejected, match="only 10"):
        map_event(
            {
                "email": "a@b.co",
                "event_name": "x",
                "created_at": T,
                **{f"k{i}": i for i in range(11)},
            },
            extra="custom_attributes",
        )


def test_options_are_checked() -> None:
    defaults = TargetOptions.from_config({})
    assert defaults.lead_mode == "email" and defaults.lead_key_attribute is None
    assert defaults.write_mode == "upsert" and defaults.clear_on_null is False
    with pytest.raises(ValueError, match="write_mode must be one of"):
        TargetOptions.from_config({"write_mode": "merge"})
    with pytest.raises(ValueError, match=r"stream_write_modes\['users'\] must be one of"):
        TargetOptions.from_config({"stream_write_modes": {"users": "merge"}})
    with pytest.raises(ValueError, match="cannot name events"):
        TargetOptions.from_config({"stream_write_modes": {"events": "update_only"}})
    with pytest.raises(ValueError, match="delete_mode must be one of"):
        TargetOptions.from_config({"delete_mode": "purge"})
    with pytest.raises(ValueError, match="max_rejects"):
        TargetOptions.from_config({"max_rejects": -1})


# -- contact fields from the schema (issue 11) -------------------------------------------
CONTACT_SCHEMA = load_schema("users")
SCHEMA_READ_ONLY = {n for n, p in CONTACT_SCHEMA["properties"].items() if p.get("readOnly")}
SCHEMA_WRITABLE = set(CONTACT_SCHEMA["properties"]) - SCHEMA_READ_ONLY


def test_users_and_leads_share_one_contact_schema() -> None:
    assert load_schema("users") == load_schema("leads")
    assert {"users", "leads"} <= set(schema_names()) and "contacts" not in schema_names()
    assert SCHEMA_READ_ONLY and "created_at" in SCHEMA_READ_ONLY
    assert {"email", "name", "custom_attributes"} <= SCHEMA_WRITABLE


def test_every_writable_schema_field_is_mapped_not_sent_as_a_custom_attribute() -> None:
    values = {
        "type": None,
        "email": "a@b.co",
        "external_id": "x-1",
        "role": "user",
        "phone": "+1",
        "name": "A",
        "owner_id": "7",
        "unsubscribed_from_emails": True,
        "signed_up_at": T,
        "last_seen_at": T,
        "custom_attributes": {"plan": "pro"},
        "avatar": "https://example.com/a.png",
        "tags": "vip",
        "companies": "acme",
    }
    assert set(values) - {"type"} >= SCHEMA_WRITABLE, "a writable field without a test value"
    inp = map_contact({k: values[k] for k in SCHEMA_WRITABLE}, "user", extra="custom_attributes")
    assert inp.custom_attributes == {"plan": "pro"} and inp.ignored == []
    assert set(inp.body()) == SCHEMA_WRITABLE - {"role", "tags", "companies"}
    assert inp.tags == ["vip"] and inp.companies == ["acme"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner, max_size=2)
    ),
    max_leaves=4,
)


@given(
    read_only=st.dictionaries(st.sampled_from(sorted(SCHEMA_READ_ONLY)), json_values, max_size=8)
)
def test_read_only_schema_fields_are_ignored_whatever_their_value(
    read_only: dict[str, Any],
) -> None:
    """A record read back by tap-intercom carries them: never custom attributes."""
    inp = map_contact({"email": "a@b.co", **read_only}, "user", extra="custom_attributes")
    assert inp.custom_attributes == {} and inp.ignored == []
