"""Data of the reliability suite's target runs, and the state they leave in the sandbox.

- ``target_input``: deterministic Singer input for the target (companies, users, leads,
  events; second deliveries with new values) with numbered STATE messages, to resume from;
  ``resume_input`` is what a tap re-sends from one of those STATEs.
- ``prepare_target_base``: what the workspace holds before a run.
- ``normal_state``: a sandbox dump with ids replaced by natural keys, for comparing what a
  faulty (or crashed and resumed) run and a clean run left behind; ``duplicates`` finds
  users or target-created leads that exist twice.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from reliability_support import CANARY, D0, Ctl

from intercom_sandbox.server import RunningSandbox

MARKER = "target_intercom_key"  # the target's lead key attribute (lead_mode: key_attribute)


# -- Singer input for the target ------------------------------------------------------------
SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "SCHEMA",
        "stream": "companies",
        "key_properties": ["company_id"],
        "schema": {
            "type": "object",
            "properties": {
                "company_id": {"type": "string"},
                "name": {"type": "string"},
                "plan": {"type": ["string", "null"]},
                "size": {"type": ["integer", "null"]},
            },
        },
    },
    {
        "type": "SCHEMA",
        "stream": "users",
        "key_properties": ["email"],
        "schema": {
            "type": "object",
            "properties": {
                "email": {"type": "string"},
                "external_id": {"type": ["string", "null"]},
                "name": {"type": ["string", "null"]},
                "plan_tier": {"type": ["string", "null"]},
                "companies": {"type": ["string", "null"]},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            },
        },
    },
    {
        "type": "SCHEMA",
        "stream": "leads",
        "key_properties": ["email"],
        "schema": {
            "type": "object",
            "properties": {"email": {"type": "string"}, "name": {"type": ["string", "null"]}},
        },
    },
    {
        "type": "SCHEMA",
        "stream": "events",
        "key_properties": [],
        "schema": {
            "type": "object",
            "properties": {
                "email": {"type": "string"},
                "event_name": {"type": "string"},
                "created_at": {"type": "integer"},
            },
        },
    },
]


def target_input(
    *,
    users: int = 16,
    leads: int = 6,
    companies: int = 3,
    events: int = 6,
    state_every: int = 5,
    streams: tuple[str, ...] = ("companies", "users", "leads", "events"),
) -> list[dict[str, Any]]:
    """Deterministic Singer input: companies, users (some updated twice: the last value must
    win), leads (some re-delivered), events; a STATE ``{"pos": n}`` every few records."""
    records: list[tuple[str, dict[str, Any]]] = []
    if "companies" in streams:
        for k in range(companies):
            records.append(
                ("companies", {"company_id": f"co-{k}", "name": f"Company {k}", "size": 10 * k})
            )
    if "users" in streams:
        for i in range(users):
            rec: dict[str, Any] = {"email": f"user{i}@example.com", "name": f"User {i}"}
            if i % 2 == 0:
                rec["external_id"] = f"ext-{i}"
            if i % 3 == 0:
                rec["tags"] = ["vip"]
            if companies and "companies" in streams:
                rec["companies"] = f"co-{i % companies}"
            rec["plan_tier"] = "pro" if i % 2 else "free"
            records.append(("users", rec))
    if "leads" in streams:
        for j in range(leads):
            records.append(("leads", {"email": f"lead{j}@example.com", "name": f"Lead {j}"}))
    if "events" in streams and "users" in streams:
        for e in range(events):
            records.append(
                (
                    "events",
                    {
                        "email": f"user{e % users}@example.com",
                        "event_name": "logged-in",
                        "created_at": D0 - 3600 * (e + 1),
                    },
                )
            )
    if "users" in streams:  # second deliveries, with new values
        for i in range(1, users, 4):
            records.append(
                ("users", {"email": f"user{i}@example.com", "name": f"User {i} renamed"})
            )
    if "leads" in streams:
        for j in range(0, leads, 3):
            records.append(("leads", {"email": f"lead{j}@example.com", "name": f"Lead {j} v2"}))
    wanted = set(streams)
    out: list[dict[str, Any]] = [s for s in SCHEMAS if s["stream"] in wanted]
    for n, (stream, rec) in enumerate(records, start=1):
        out.append({"type": "RECORD", "stream": stream, "record": rec})
        if n % state_every == 0:
            out.append({"type": "STATE", "value": {"pos": n}})
    out.append({"type": "STATE", "value": {"pos": len(records)}})
    return out


def resume_input(lines: list[dict[str, Any]], state: dict[str, Any] | None) -> list[dict[str, Any]]:
    """What a tap re-sends from ``state``: the SCHEMAs, then everything after that STATE."""
    if state is None:
        return list(lines)
    at = next(i for i, m in enumerate(lines) if m["type"] == "STATE" and m["value"] == state)
    schemas = [m for m in lines if m["type"] == "SCHEMA"]
    return schemas + lines[at + 1 :]


def target_config(sandbox: RunningSandbox, tmp: Path, **overrides: Any) -> dict[str, Any]:
    return {
        "access_token": CANARY,
        "api_url": sandbox.base_url,
        "rejects_file": str(tmp / "rejects.jsonl"),
        "create_custom_attributes": True,
        "batch_size_rows": 10,
        **overrides,
    }


def prepare_target_base(ctl: Ctl) -> None:
    """What the workspace holds before a target run: users the input updates, and a lead
    someone else created with an e-mail the input also uses (it must be left alone)."""
    ctl.clock(D0)
    ctl.call("POST", "/contacts", {"role": "user", "email": "user0@example.com", "name": "Old 0"})
    ctl.call(
        "POST",
        "/contacts",
        {"role": "user", "email": "user1@example.com", "external_id": "old-1", "name": "Old 1"},
    )
    ctl.call("POST", "/contacts", {"role": "user", "email": "user3@example.com"})
    ctl.call("POST", "/contacts", {"role": "lead", "email": "lead0@example.com", "name": "Form"})


# -- normalised sandbox state --------------------------------------------------------------------
def _contact_key(c: dict[str, Any]) -> str:
    marker = (c.get("custom_attributes") or {}).get(MARKER)
    return (
        f"contact:{c.get('role')}:{(c.get('email') or '').lower()}:{c.get('external_id')}:{marker}"
    )


def normal_state(dump: dict[str, Any]) -> dict[str, Any]:
    """A dump with every id replaced by a natural key and every list sorted: two runs that
    wrote the same things compare equal, whatever order their writes (and ids) came in."""
    contacts = dump["contacts"]["contacts"]
    ids: dict[str, str] = {}
    for c in contacts:
        ids[str(c["id"])] = _contact_key(c)
    for co in dump["companies"]["companies"]:
        ids[str(co["id"])] = f"company:{co.get('company_id')}"
    for tag in dump["workspace"]["tags"]:
        ids[str(tag["id"])] = f"tag:{tag.get('name')}"
    for attr in dump["workspace"]["data_attributes"]:
        ids[str(attr["id"])] = f"attribute:{attr.get('model')}:{attr.get('name')}"

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: norm(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            return sorted((norm(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
        if isinstance(value, str):
            if value in ids:
                return ids[value]
            if "/" in value:
                return "/".join(ids.get(part, part) for part in value.split("/"))
        return value

    return {
        "contacts": norm(contacts),
        "merged": norm(dump["contacts"]["merged"]),
        "deleted": norm(dump["contacts"]["deleted"]),
        "companies": norm(dump["companies"]["companies"]),
        "tags": norm(dump["workspace"]["tags"]),
        "data_attributes": norm(dump["workspace"]["data_attributes"]),
        # Event ids are serials, handed out in the order concurrent writes arrive.
        "events": norm(
            [{k: v for k, v in e.items() if k != "id"} for e in dump["workspace"]["events"]]
        ),
    }


def duplicates(dump: dict[str, Any]) -> list[str]:
    """Users sharing an e-mail or external_id, and leads sharing a key (or an e-mail)."""
    keys: Counter[str] = Counter()
    for c in dump["contacts"]["contacts"]:
        if c.get("role") == "user":
            if c.get("email"):
                keys[f"user email {c['email'].lower()}"] += 1
            if c.get("external_id"):
                keys[f"user external_id {c['external_id']}"] += 1
        else:
            # A lead is matched by its key attribute where the target stamps one, else (the
            # default lead_mode: email) by its e-mail: two of either are a duplicate.
            marker = (c.get("custom_attributes") or {}).get(MARKER)
            if marker:
                keys[f"lead {marker}"] += 1
            elif c.get("email"):
                keys[f"lead email {c['email'].lower()}"] += 1
    return sorted(k for k, n in keys.items() if n > 1)


def diff_states(got: dict[str, Any], want: dict[str, Any]) -> str:
    """A short description of how two normalised states differ (for assertion messages)."""
    lines = []
    for part in want:
        if got.get(part) == want[part]:
            continue
        g = {json.dumps(x, sort_keys=True) for x in got.get(part, [])}
        w = {json.dumps(x, sort_keys=True) for x in want[part]}
        lines.append(f"{part}: missing {sorted(w - g)[:3]} unexpected {sorted(g - w)[:3]}")
    return "\n".join(lines)[:4000]
