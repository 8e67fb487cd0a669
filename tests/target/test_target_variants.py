"""The target under every sandbox variant where Intercom's behaviour is unknown: e-mail
equality in contact search with or without case (FACTS.md §11). Either way, a row whose
e-mail differs from the contact's only in case updates that contact: never a second one."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from target_helpers import contacts, post, run_target, singer

from intercom_sandbox.server import RunningSandbox

SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": [],
    "schema": {
        "type": "object",
        "properties": {"email": {"type": ["string"]}, "name": {"type": ["string", "null"]}},
    },
}


@pytest.mark.parametrize("email_match", ["case_insensitive", "case_sensitive"])
def test_an_email_in_another_case_updates_the_one_contact(
    sandbox: RunningSandbox, api: requests.Session, config: dict[str, Any], email_match: str
) -> None:
    sandbox.backend.settings.set("email_match", email_match)
    ada = post(api, "/contacts", {"role": "user", "email": "Ada.Lovelace@Example.com"})
    rows = singer(
        SCHEMA,
        {
            "type": "RECORD",
            "stream": "users",
            "record": {"email": "ada.lovelace@example.com", "name": "Ada"},
        },
        {"type": "STATE", "value": {"done": 1}},
    )
    first = run_target(config, rows)
    users = contacts(sandbox, "user")
    assert [u["id"] for u in users] == [ada["id"]], users
    assert users[0]["name"] == "Ada"
    assert first.states == [{"done": 1}]
    again = run_target(config, rows)
    assert [u["id"] for u in contacts(sandbox, "user")] == [ada["id"]]
    assert again.count("users", "unchanged") == 1
