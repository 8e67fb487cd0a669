"""Round trip: the tap reads users and leads from one sandbox, the target writes them into an
empty one, the tap reads them back: every writable field survives."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from intercom_sandbox.server import start

BIN = Path(sys.executable).parent
TOKEN = "sandbox-token"
# What a user can write through POST/PUT /contacts (FACTS.md §2.2-2.3).
WRITABLE = (
    "role",
    "email",
    "external_id",
    "name",
    "phone",
    "signed_up_at",
    "last_seen_at",
    "unsubscribed_from_emails",
    "custom_attributes",
)


def _tap(base_url: str, tmp: Path, name: str) -> list[dict]:
    config = tmp / f"{name}-tap.json"
    config.write_text(json.dumps({"access_token": TOKEN, "api_url": base_url}))
    out = subprocess.run(
        [str(BIN / "tap-intercom"), "--config", str(config)],
        capture_output=True,
        check=True,
        timeout=300,
    ).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _writable(messages: list[dict]) -> dict[str, dict]:
    """Contacts keyed by e-mail (ids differ between workspaces), writable fields only."""
    out = {}
    for m in messages:
        if m["type"] == "RECORD" and m["stream"] in ("users", "leads"):
            rec = m["record"]
            fields = {k: rec.get(k) for k in WRITABLE}
            # With lead_mode key_attribute the target stamps the leads it creates: not a field.
            fields["custom_attributes"] = {
                k: v
                for k, v in (rec.get("custom_attributes") or {}).items()
                if k != "target_intercom_key"
            }
            fields["avatar"] = (rec.get("avatar") or {}).get("image_url")
            out[rec["email"] or rec["id"]] = fields
    return out


def test_tap_to_target_to_tap_keeps_every_writable_field(tmp_path):
    source = start(tokens=[TOKEN], random_seed=11, seed={"users": 60, "leads": 20})
    empty = start(tokens=[TOKEN], random_seed=12)
    try:
        first = _tap(source.base_url, tmp_path, "source")
        # Leads without an e-mail cannot be matched on a re-run: the target's rule is that a
        # lead needs an e-mail, so those stay out of the comparison (and go to rejects).
        singer = "\n".join(
            json.dumps(m) for m in first if m["type"] in ("SCHEMA", "RECORD", "STATE")
        )
        target_config = tmp_path / "target.json"
        target_config.write_text(
            json.dumps(
                {
                    "access_token": TOKEN,
                    "api_url": empty.base_url,
                    "create_custom_attributes": True,
                    "rejects_file": str(tmp_path / "rejects.jsonl"),
                }
            )
        )
        done = subprocess.run(
            [str(BIN / "target-intercom"), "--config", str(target_config)],
            input=singer.encode(),
            capture_output=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        back = _tap(empty.base_url, tmp_path, "copy")
    finally:
        source.stop()
        empty.stop()
    before, after = _writable(first), _writable(back)
    rejects = tmp_path / "rejects.jsonl"
    rejected = [json.loads(x) for x in rejects.read_text().splitlines()] if rejects.exists() else []
    rejected_keys = {r["record"].get("email") or r["record"].get("id") for r in rejected}
    assert all(not k or "@" not in k for k in rejected_keys), rejected[:3]
    expected = {k: v for k, v in before.items() if k not in rejected_keys}
    assert len(expected) >= 70
    diff = {k: (expected[k], after.get(k)) for k in expected if after.get(k) != expected[k]}
    assert not diff, list(diff.items())[:2]
    assert set(after) == set(expected)
