"""Tokens with limited permissions: 403 ``action_forbidden`` where Intercom would refuse.

A plain token keeps every permission; ``NAME:perm1,perm2`` (``--token`` and ``start``)
grants only those, by the Developer Hub's names. Every 403 body is checked against the
spec's error envelope (the conftest's observer does that for the sandboxes started here).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import requests
from support.spec import checker, spec_available

from intercom_sandbox.permissions import OPERATION_PERMISSIONS, PERMISSIONS, parse_token
from intercom_sandbox.server import start
from intercom_sandbox.urls import ROUTES

FULL = "full-token"
USERS_ONLY = "users-token:Read and list users and companies, read TAGS"


def _session(base: str, token: str) -> requests.Session:
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
    s.base = base  # type: ignore[attr-defined]
    return s


@pytest.fixture
def two_tokens():
    sbx = start(tokens=[FULL, USERS_ONLY], random_seed=1, seed={"users": 3, "tickets": 2})
    seen: list[tuple[str, int, bytes]] = []
    sbx.app.observers.append(lambda op, status, body: seen.append((op, status, body)))
    try:
        yield sbx, seen
    finally:
        sbx.stop()


def test_a_limited_token_gets_403_action_forbidden_naming_the_permission(two_tokens):
    sbx, seen = two_tokens
    limited = _session(sbx.base_url, "users-token")
    r = limited.post(f"{sbx.base_url}/tickets/search", json={"query": {}})
    assert r.status_code == 403
    body = r.json()
    assert body["type"] == "error.list"
    assert [e["code"] for e in body["errors"]] == ["action_forbidden"]
    assert "Read tickets" in body["errors"][0]["message"]
    assert body["request_id"]
    # ... while what it was granted works, case-insensitive names included.
    assert limited.get(f"{sbx.base_url}/contacts", params={"per_page": 5}).status_code == 200
    assert limited.get(f"{sbx.base_url}/tags").status_code == 200
    assert limited.get(f"{sbx.base_url}/me").status_code == 200  # needs no permission
    assert limited.get(f"{sbx.base_url}/admins").status_code == 403
    r = limited.post(f"{sbx.base_url}/contacts", json={"role": "user", "email": "a@b.co"})
    assert r.status_code == 403 and "Write users and companies" in r.text
    if spec_available():
        spec = checker()
        problems = [p for op, st, b in seen if st == 403 for p in spec.errors(op, st, b)]
        assert problems == []


def test_a_plain_token_keeps_every_permission(two_tokens):
    sbx, _ = two_tokens
    full = _session(sbx.base_url, FULL)
    assert full.post(f"{sbx.base_url}/tickets/search", json={"query": {}}).status_code != 403
    assert full.get(f"{sbx.base_url}/admins").status_code == 200
    r = full.post(f"{sbx.base_url}/contacts", json={"role": "user", "email": "a@b.co"})
    assert r.status_code == 200


def test_403_comes_after_authentication_and_routing(two_tokens):
    sbx, _ = two_tokens
    r = _session(sbx.base_url, "users-token:Read tickets").get(f"{sbx.base_url}/admins")
    assert r.status_code == 401  # the permission list is not part of the token
    r = _session(sbx.base_url, "users-token").get(f"{sbx.base_url}/no_such_thing")
    assert r.status_code == 404


def test_every_route_and_every_permission_in_the_table_is_real():
    operations = {op for _, _, op, _ in ROUTES}
    assert set(OPERATION_PERMISSIONS) <= operations
    assert {p for needed in OPERATION_PERMISSIONS.values() for p in needed} <= set(PERMISSIONS)
    # Every operation but GET /me needs a permission: a new route must be placed.
    assert operations - set(OPERATION_PERMISSIONS) == {"identifyAdmin"}


def test_token_specs_parse_and_unknown_permissions_are_refused_without_the_token():
    assert parse_token("plain").permissions is None
    assert parse_token("t:Read tickets,read admins").permissions == {"Read tickets", "Read admins"}
    assert parse_token("t:").permissions == frozenset()
    with pytest.raises(ValueError) as e:
        parse_token("s3cr3t-token:Read tikets")
    assert "Read tikets" in str(e.value) and "Read tickets" in str(e.value)
    assert "s3cr3t" not in str(e.value)
    with pytest.raises(ValueError):
        start(tokens=["ok", "bad:Write everything"])


def test_cli_token_flag_limits_permissions_and_reports_typos():
    bad = subprocess.run(
        [sys.executable, "-m", "intercom_sandbox", "--port", "0", "--token", "s3cr3t:Read tikets"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "unknown permission 'Read tikets'" in bad.stderr
    assert "s3cr3t" not in bad.stderr + bad.stdout
    proc = subprocess.Popen(
        [sys.executable, "-m", "intercom_sandbox", "--port", "0", "--token", "t:Read tickets"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        s = _session(base, "t")
        assert s.post(f"{base}/tickets/search", json={"query": {}}).status_code != 403
        r = s.get(f"{base}/contacts")
        assert r.status_code == 403 and "Read and list users and companies" in r.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
