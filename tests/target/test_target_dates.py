"""Date columns become date attributes, sent as unix seconds (issue 13).

With ``create_custom_attributes`` a column typed ``format: date-time`` created a *string*
attribute holding ISO text. Intercom's dates are unix seconds (FACTS.md §8): a column typed
date-time / date in the stream's schema, or named like Intercom's dates (``*_at``,
``*_date``) with timestamp values, creates a date attribute and is sent as unix seconds, so
an unchanged row compares equal on a re-run; an existing date attribute gets unix seconds
even from ISO text.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests
from hypothesis import given
from hypothesis import strategies as st
from target_helpers import contacts, create_attribute, post, run_target, schema_message, singer

from intercom_sandbox.server import RunningSandbox
from target_intercom import attributes

T = 1714564800  # 2024-05-01T12:00:00Z
SCHEMA = schema_message(
    "users",
    ["email"],
    {
        "email": {"type": "string"},
        "contract_start": {"type": ["string", "null"], "format": "date-time"},
        "birthday": {"type": ["string", "null"], "format": "date"},
        "trial_ends_at": {"type": ["string", "null"]},
        "renewal_date": {"type": ["integer", "null"]},
        "looked_at": {"type": ["string", "null"]},
        "seats": {"type": ["integer", "null"]},
    },
)
ROW = {
    "email": "ada@example.com",
    "contract_start": "2024-05-01T12:00:00Z",
    "birthday": "1990-12-10",
    "trial_ends_at": "2024-05-01T14:00:00+02:00",
    "renewal_date": T,
    "looked_at": "the pricing page",  # named like a date, but not a timestamp: a string
    "seats": 3,
}


def attribute_types(sandbox: RunningSandbox, model: str = "contact") -> dict[str, str]:
    found = sandbox.backend.dump()["workspace"]["data_attributes"]
    return {a["name"]: a["data_type"] for a in found if a.get("custom") and a["model"] == model}


def test_date_columns_create_date_attributes_and_a_rerun_is_unchanged(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    text = singer(SCHEMA, {"type": "RECORD", "stream": "users", "record": ROW})

    first = run_target(config, text, create_custom_attributes=True)

    assert attribute_types(sandbox) == {
        "contract_start": "date",
        "birthday": "date",
        "trial_ends_at": "date",
        "renewal_date": "date",
        "looked_at": "string",
        "seats": "integer",
    }
    [ada] = contacts(sandbox)
    assert ada["custom_attributes"] == {
        "contract_start": T,
        "birthday": 660787200,
        "trial_ends_at": T,
        "renewal_date": T,
        "looked_at": "the pricing page",
        "seats": 3,
    }
    assert first.outcomes("users") == {"created": 1}
    sandbox.app.stats.reset()

    again = run_target(config, text, create_custom_attributes=True)

    assert again.outcomes("users") == {"unchanged": 1}
    assert "UpdateContact" not in sandbox.app.stats.snapshot()["operations"]


def test_iso_text_is_converted_for_an_existing_date_attribute(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    create_attribute(api, "renewed", "date")
    create_attribute(api, "seats", "integer")
    post(api, "/contacts", {"role": "user", "email": "ada@example.com"})
    schema = {
        **SCHEMA,
        "schema": {"properties": {"email": {"type": "string"}, "renewed": {}, "seats": {}}},
    }
    record = {"email": "ada@example.com", "renewed": "2024-05-01T12:00:00Z", "seats": "12"}
    text = singer(schema, {"type": "RECORD", "stream": "users", "record": record})

    run = run_target(config, text)  # create_custom_attributes is off: nothing created

    assert run.rejects == []
    [ada] = contacts(sandbox)
    assert ada["custom_attributes"] == {"renewed": T, "seats": 12}  # text from a CSV: typed
    assert run_target(config, text).outcomes("users") == {"unchanged": 1}


def test_a_value_that_does_not_fit_a_date_attribute_is_rejected_naming_the_fix(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any]
) -> None:
    create_attribute(api, "renewed", "date")
    schema = {**SCHEMA, "schema": {"properties": {"email": {"type": "string"}, "renewed": {}}}}
    record = {"email": "ada@example.com", "renewed": "soon"}

    run = run_target(
        config, singer(schema, {"type": "RECORD", "stream": "users", "record": record})
    )

    [reject] = run.rejects
    assert "renewed" in reject["reason"] and "date contact attribute" in reject["reason"]
    assert "fix the value" in reject["reason"]


def test_company_date_columns_and_event_date_metadata(
    sandbox: RunningSandbox, config: dict[str, Any]
) -> None:
    text = singer(
        {
            "type": "SCHEMA",
            "stream": "companies",
            "key_properties": ["company_id"],
            "schema": {
                "properties": {
                    "company_id": {"type": "string"},
                    "renews": {"type": "string", "format": "date-time"},
                }
            },
        },
        {
            "type": "RECORD",
            "stream": "companies",
            "record": {"company_id": "acme", "renews": "2024-05-01T12:00:00Z"},
        },
        {
            "type": "SCHEMA",
            "stream": "users",
            "key_properties": [],
            "schema": {"properties": {"email": {"type": "string"}, "user_id": {"type": "string"}}},
        },
        {
            "type": "RECORD",
            "stream": "users",
            "record": {"email": "e@example.com", "user_id": "e1"},
        },
        {
            "type": "SCHEMA",
            "stream": "events",
            "key_properties": [],
            "schema": {"properties": {}},
        },
        {
            "type": "RECORD",
            "stream": "events",
            "record": {
                "user_id": "e1",
                "event_name": "renewed",
                "created_at": T,
                "renewal_date": "2024-05-01T12:00:00Z",  # *_date: a date in Intercom
                "note_at": "2024-05-01T12:00:00Z",  # not *_date: Intercom keeps text
            },
        },
    )

    run_target(config, text, create_custom_attributes=True)

    assert attribute_types(sandbox, "company") == {"renews": "date"}
    [acme] = sandbox.backend.dump()["companies"]["companies"]
    assert acme["custom_attributes"] == {"renews": T}
    [event] = sandbox.backend.dump()["workspace"]["events"]
    assert event["metadata"] == {"renewal_date": T, "note_at": "2024-05-01T12:00:00Z"}


moments = st.datetimes(
    min_value=dt.datetime(1971, 1, 1),
    max_value=dt.datetime(2999, 1, 1),
    timezones=st.sampled_from([dt.timezone.utc, dt.timezone(dt.timedelta(hours=-5, minutes=-30))]),
).map(lambda d: d.replace(microsecond=0))


@given(moment=moments, spelling=st.sampled_from(["iso", "unix", "unix-text"]))
def test_any_spelling_of_a_moment_is_sent_as_the_same_unix_seconds(
    moment: dt.datetime, spelling: str
) -> None:
    unix = int(moment.timestamp())
    value = {"iso": moment.isoformat(), "unix": unix, "unix-text": str(unix)}[spelling]
    assert attributes.infer_type("paid_at", value, frozenset()) == "date"
    assert attributes.infer_type("paid", value, frozenset({"paid"})) == "date"
    assert attributes.convert("paid_at", value, "date", "contact") == unix
