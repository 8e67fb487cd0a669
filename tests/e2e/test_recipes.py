"""The README's recipes, as meltano.yml defines them, end to end against a sandbox.

The original connector's five actions and four triggers. The triggers and the CSV actions
run through ``meltano run`` (their state, their stream maps and the loaders are the point);
"get a lead" and "list all leads" run the tap directly with the recipe's own config and
``select:`` read from meltano.yml, where Meltano would add nothing but start-up time.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import uuid
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from conftest import ROOT, TOKEN, Meltano

from intercom_sandbox.server import RunningSandbox
from tap_intercom.tap import TapIntercom

D0 = 1_749_513_600  # 2025-06-10 00:00:00 UTC
DAY = 86_400
TRIGGERS = {
    "tap-intercom--poll-user-created": "users_created",
    "tap-intercom--poll-user-updated": "users_updated",
    "tap-intercom--poll-lead-created": "leads_created",
    "tap-intercom--poll-conversation-started": "conversations_started",
}
ACTIONS = ["tap-spreadsheets--upsert-user", "tap-spreadsheets--create-lead"]
RECIPES = [*TRIGGERS, *ACTIONS, "tap-intercom--get-user"]


def _extractors() -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load((ROOT / "meltano.yml").read_text())
    return {p["name"]: p for p in doc["plugins"]["extractors"]}


def recipe(name: str, env: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """A tap-intercom recipe's config (``${VAR}`` read from ``env`` as Meltano does for array
    settings: JSON; unset: omitted) and the streams its ``select:`` names."""
    plugin = _extractors()[name]
    assert plugin["inherit_from"] == "tap-intercom"
    config = {}
    for key, value in (plugin.get("config") or {}).items():
        if isinstance(value, str) and value.startswith("${"):
            var = value[2:-1]
            if var in env:
                config[key] = json.loads(env[var])
        else:
            config[key] = value
    streams = [pattern.split(".")[0] for pattern in plugin["select"]]
    return config, streams


def run_recipe(sandbox: RunningSandbox, name: str, env: dict[str, str]) -> list[dict[str, Any]]:
    """Run the tap in-process with a recipe's config and selection; its Singer messages."""
    config, streams = recipe(name, env)
    tap = TapIntercom(config={"access_token": TOKEN, "api_url": sandbox.base_url, **config})
    catalog = tap.catalog_dict
    for entry in catalog["streams"]:
        for md in entry["metadata"]:
            if md["breadcrumb"] == []:
                md["metadata"]["selected"] = entry["tap_stream_id"] in streams
    tap = TapIntercom(
        config={"access_token": TOKEN, "api_url": sandbox.base_url, **config},
        catalog=catalog,
        setup_mapper=True,
    )
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    out.seek(0)
    return [json.loads(line) for line in out.read().splitlines() if line]


def _records(messages: list[dict[str, Any]], stream: str) -> list[dict[str, Any]]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def _jsonl(folder: Path, stream: str) -> list[dict[str, Any]]:
    path = folder / f"{stream}.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


class Api:
    def __init__(self, sandbox: RunningSandbox) -> None:
        self.base = sandbox.base_url
        self.s = requests.Session()
        self.s.headers.update({"Authorization": f"Bearer {TOKEN}", "Accept": "application/json"})

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.s.post(f"{self.base}{path}", json=body, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    def put(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = self.s.put(f"{self.base}{path}", json=body, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()

    def clock(self, **body: Any) -> None:
        self.post("/_sandbox/clock", body)


@pytest.fixture(scope="module")
def recipes_installed(meltano_installed: None) -> None:
    env = {**os.environ, "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false"}
    Meltano(env)("install", *RECIPES, timeout=600)


@pytest.fixture
def m(recipes_installed: None, meltano: Meltano) -> Meltano:
    return meltano


def test_meltano_yml_has_every_recipe_and_no_start_date_hiding_old_contacts():
    extractors = _extractors()
    for name in [*RECIPES, "tap-intercom--get-lead", "tap-intercom--all-leads"]:
        assert name in extractors, name
        assert extractors[name].get("select") or name.startswith("tap-spreadsheets"), name
    doc = yaml.safe_load((ROOT / "meltano.yml").read_text())
    for env in doc["environments"]:
        for plugin in env["config"]["plugins"]["extractors"]:
            if plugin["name"] == "tap-intercom":
                assert "start_date" not in (plugin.get("config") or {}), env["name"]
                assert plugin.get("select"), env["name"]  # never Meltano's "everything"


def test_cost_class_extractors_cover_every_stream_once_and_are_scheduled():
    from tap_intercom.tap import STREAM_NAMES

    extractors = _extractors()
    classes = ["frequent", "hourly", "daily", "reconcile"]
    seen: list[str] = []
    for name in classes:
        seen += [p.split(".")[0] for p in extractors[f"tap-intercom--{name}"]["select"]]
    # Every API stream in exactly one class; webhook_events has its own (webhooks) extractor.
    assert sorted(seen) == sorted(set(STREAM_NAMES) - {"webhook_events"})
    doc = yaml.safe_load((ROOT / "meltano.yml").read_text())
    jobs = {j["name"]: j["tasks"] for j in doc["jobs"]}
    scheduled = {s["interval"]: jobs[s["job"]] for s in doc["schedules"]}
    assert scheduled["*/2 * * * *"] == ["tap-intercom--frequent target-postgres"]
    assert {t for tasks in scheduled.values() for t in tasks} == {
        f"tap-intercom--{c} target-postgres" for c in ("frequent", "hourly", "daily")
    }  # the reconcile is opt-in: a job, no schedule
    assert jobs["intercom-reconcile"] == ["tap-intercom--reconcile target-postgres"]


def test_trigger_recipes_each_fire_on_their_own_event(m, e2e_sandbox, tmp_path):
    api = Api(e2e_sandbox)
    api.clock(set=D0, frozen=True)
    api.post("/_sandbox/seed", {"users": 40, "leads": 15, "conversations": 25})
    api.clock(set=D0 + DAY, frozen=True)
    suffix = uuid.uuid4().hex[:8]
    run = ["run", "--state-id-suffix", suffix]
    for extractor in TRIGGERS:
        run += [extractor, "target-jsonl"]
    out = tmp_path / "jsonl"

    m(*run)
    dump = e2e_sandbox.backend.dump()
    users = [c for c in dump["contacts"]["contacts"] if c["role"] == "user"]
    conversations = dump["conversations"]["conversations"]
    assert len(_jsonl(out, "users_created")) == len(users)
    assert {r["id"] for r in _jsonl(out, "users_updated")} == {
        u["id"] for u in users if u["updated_at"] > u["created_at"]
    }
    started = _jsonl(out, "conversations_started")
    by_contact = [c for c in conversations if c["source"]["delivered_as"] == "customer_initiated"]
    assert 0 < len(started) == len(by_contact) < len(conversations)
    assert all(r["contact_role"] in ("user", "lead") for r in started)
    # assignee_id: the original's assignee.id, null when unassigned (Intercom sends 0).
    assert {
        (r["assignee_id"], r["admin_assignee_id"]) for r in started if not r["assignee_id"]
    } <= {
        (None, 0),
        (None, None),
    }
    assert all(r["assignee_id"] == str(r["admin_assignee_id"]) for r in started if r["assignee_id"])

    # An hour later: one of each event, and one conversation an admin started.
    api.clock(set=D0 + DAY + 3600, frozen=True)
    new_user = api.post("/contacts", {"role": "user", "email": "new.user@example.com"})
    changed = api.put(f"/contacts/{users[0]['id']}", {"name": "Changed Name"})
    new_lead = api.post("/contacts", {"role": "lead", "email": "new.lead@example.com"})
    backend = e2e_sandbox.backend
    with backend.lock:
        convs = backend.conversations
        contact = backend.contacts.get(new_user["id"])
        by_user = convs.create(
            author=convs.author_for_contact(contact), contact_ids=[contact["id"]], body="Hi"
        )
        admin = next(iter(backend.workspace.admins.values()))
        convs.create(author=convs.author_for_admin(admin), contact_ids=[contact["id"]], body="Yo")
    for f in out.iterdir():
        f.unlink()
    m(*run)
    assert [r["id"] for r in _jsonl(out, "users_created")] == [new_user["id"]]
    assert [r["id"] for r in _jsonl(out, "users_updated")] == [changed["id"]]
    assert [r["id"] for r in _jsonl(out, "leads_created")] == [new_lead["id"]]
    assert [(r["id"], r["contact_role"]) for r in _jsonl(out, "conversations_started")] == [
        (by_user["id"], "user")
    ]
    # Four pipelines, four states: "created" and "updated" never share a bookmark.
    listed = m("state", "list", "--pattern", f"*{suffix}")
    for extractor in TRIGGERS:
        assert f"sandbox:{extractor}-to-target-jsonl:{suffix}" in listed


def test_csv_action_recipes_upsert_a_user_and_create_a_lead(m, e2e_sandbox):
    api = Api(e2e_sandbox)
    api.post("/companies", {"company_id": "acme", "name": "Acme Corporation"})
    existing = api.post("/contacts", {"role": "user", "email": "ada@example.com"})
    run = ["run", "--full-refresh"]
    for extractor in ACTIONS:
        run += [extractor, "target-intercom"]
    for _ in range(2):  # a re-run changes nothing
        m(*run)
        contacts = e2e_sandbox.backend.dump()["contacts"]["contacts"]
        ada = [c for c in contacts if c["email"] == "ada@example.com"]
        alan = [c for c in contacts if c["email"] == "alan@example.org"]
        assert [(c["id"], c["role"], c["name"], c["phone"]) for c in ada] == [
            (existing["id"], "user", "Ada Lovelace", "+44 20 7946 0001")
        ]
        assert [(c["role"], c["name"], c["avatar"]["image_url"]) for c in alan] == [
            ("lead", "Alan Turing", "https://images.example.org/alan.png")
        ]
    companies = {
        c["id"]: c["company_id"] for c in e2e_sandbox.backend.dump()["companies"]["companies"]
    }
    for contact in (ada[0], alan[0]):
        rendered = e2e_sandbox.backend.contacts.render(
            e2e_sandbox.backend.contacts.get(contact["id"])
        )
        assert [companies[c["id"]] for c in rendered["companies"]["data"]] == ["acme"]


def test_get_a_user_by_intercom_id_or_external_id_reads_only_users(m, e2e_sandbox, tmp_path):
    api = Api(e2e_sandbox)
    api.post("/_sandbox/seed", {"users": 20, "leads": 5, "conversations": 5})
    by_ext = api.post("/contacts", {"role": "user", "email": "e@x.io", "external_id": "crm-7"})
    by_id = api.post("/contacts", {"role": "user", "email": "i@x.io"})
    suffix = uuid.uuid4().hex[:8]
    m.env["INTERCOM_USER_IDS"] = json.dumps([by_id["id"]])
    m.env["INTERCOM_USER_EXTERNAL_IDS"] = json.dumps(["crm-7"])
    m("run", "--state-id-suffix", suffix, "tap-intercom--get-user", "target-jsonl")
    out = tmp_path / "jsonl"
    assert sorted(r["id"] for r in _jsonl(out, "users")) == sorted([by_id["id"], by_ext["id"]])
    assert sorted(p.name for p in out.iterdir()) == ["users.jsonl"]  # no other stream ran
    state = m("state", "get", f"sandbox:tap-intercom--get-user-to-target-jsonl:{suffix}")
    assert "replication_key_value" not in state  # a look-up moves no bookmark


def test_get_a_user_by_external_id_follows_merges_and_explains_a_wrong_id(e2e_sandbox, caplog):
    api = Api(e2e_sandbox)
    user = api.post("/contacts", {"role": "user", "email": "same@x.io"})
    lead = api.post("/contacts", {"role": "lead", "email": "same@x.io", "external_id": "old-7"})
    api.post("/contacts/merge", {"from": lead["id"], "into": user["id"]})
    caplog.set_level(logging.WARNING, logger="tap_intercom")
    env = {"INTERCOM_USER_EXTERNAL_IDS": '["old-7"]', "INTERCOM_USER_IDS": '["crm-404"]'}
    messages = run_recipe(e2e_sandbox, "tap-intercom--get-user", env)
    assert [r["id"] for r in _records(messages, "users")] == [user["id"]]
    # An external id given as an Intercom id: a 404, and the warning says what to use.
    assert "crm-404 (from setting user_ids) does not exist" in caplog.text
    assert "use user_external_ids" in caplog.text


def test_get_a_lead_recipe(e2e_sandbox):
    api = Api(e2e_sandbox)
    api.post("/_sandbox/seed", {"users": 10, "leads": 10})
    lead = api.post("/contacts", {"role": "lead", "email": "lead@x.io", "name": "Lee"})
    messages = run_recipe(
        e2e_sandbox, "tap-intercom--get-lead", {"INTERCOM_LEAD_IDS": json.dumps([lead["id"]])}
    )
    assert [(r["id"], r["name"]) for r in _records(messages, "leads")] == [(lead["id"], "Lee")]
    assert {m["stream"] for m in messages if m["type"] == "RECORD"} == {"leads"}


def test_list_all_leads_recipe_includes_leads_untouched_for_years(e2e_sandbox):
    api = Api(e2e_sandbox)
    api.clock(set=1_500_000_000, frozen=True)  # 2017: before any start_date one would pick
    ancient = api.post("/contacts", {"role": "lead", "email": "2017@x.io"})
    api.clock(set=D0, frozen=True)
    api.post("/_sandbox/seed", {"users": 10, "leads": 30})
    messages = run_recipe(e2e_sandbox, "tap-intercom--all-leads", {})
    leads = {
        c["id"] for c in e2e_sandbox.backend.dump()["contacts"]["contacts"] if c["role"] == "lead"
    }
    got = [r["id"] for r in _records(messages, "leads")]
    assert sorted(got) == sorted(leads) and ancient["id"] in got
