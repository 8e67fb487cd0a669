"""The programs' command lines: intercom-webhooks (secret from the environment or a file,
never an argument; clear errors) and intercom-sandbox's webhook flags."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import requests
from webhook_support import SECRET, TOKEN, Capture, notification, post_signed, stored, wait_for

from intercom_webhooks import cli
from intercom_webhooks.store import StoreError, open_store, redact


def receiver_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "intercom_webhooks", "--port", "0", *args]


def env_without_secret(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "INTERCOM_CLIENT_SECRET"}
    return {**env, **extra}


def test_without_a_secret_it_refuses_to_start_and_names_the_fix(tmp_path: Path) -> None:
    result = subprocess.run(
        receiver_cmd("--store", str(tmp_path / "s.sqlite3")),
        env=env_without_secret(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "INTERCOM_CLIENT_SECRET" in result.stderr
    assert not (tmp_path / "s.sqlite3").exists()


def test_there_is_no_plain_secret_argument() -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["--client-secret", SECRET])


@pytest.mark.parametrize("source", ["env-name", "file"])
def test_secret_from_a_named_variable_or_a_file(
    tmp_path: Path, http: requests.Session, source: str
) -> None:
    location = str(tmp_path / "s.sqlite3")
    if source == "file":
        secret_file = tmp_path / "secret"
        secret_file.write_text(SECRET + "\n")  # a trailing newline is not part of it
        args, env = ["--client-secret-file", str(secret_file)], env_without_secret()
    else:
        args, env = (
            ["--client-secret-env", "MY_APP_SECRET"],
            env_without_secret(MY_APP_SECRET=SECRET),
        )
    proc = subprocess.Popen(
        receiver_cmd("--store", location, *args),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        body = orjson.dumps(notification("notif_cli"))
        assert post_signed(http, url, body).status_code == 200
        assert post_signed(http, url, body, secret="wrong").status_code == 401
        assert SECRET not in " ".join(proc.args)  # nothing for `ps` to show
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert SECRET not in err
    assert [r.notification.notification_id for r in stored(location)] == ["notif_cli"]


def test_a_store_that_cannot_be_opened_is_exit_1_with_its_path(tmp_path: Path) -> None:
    bad = str(tmp_path / "no" / "such" / "dir" / "s.sqlite3")
    result = subprocess.run(
        receiver_cmd("--store", bad),
        env=env_without_secret(INTERCOM_CLIENT_SECRET=SECRET),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert bad in result.stderr


def test_postgres_without_psycopg_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(StoreError, match=r"intercom-singer\[postgres\]"):
        open_store("postgresql://postgres@127.0.0.1:5432/postgres")


def test_a_url_password_is_redacted() -> None:
    assert redact("postgresql://app:s3cr3t@db.example:5433/hooks?sslmode=require") == (
        "postgresql://app:***@db.example:5433/hooks?sslmode=require"
    )
    assert redact("postgresql://db.example/hooks") == "postgresql://db.example/hooks"
    assert redact("/var/lib/hooks.sqlite3") == "/var/lib/hooks.sqlite3"


def test_sandbox_cli_sends_webhooks_to_the_given_url(capture: Capture) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "intercom_sandbox",
            "--port",
            "0",
            "--webhook-url",
            capture.url,
            "--client-secret",
            SECRET,
            "--webhook-retry-scale",
            "0.01",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = proc.stdout.readline().strip()
        r = requests.post(
            f"{base}/contacts",
            json={"role": "lead", "email": "l@example.com"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert r.status_code == 200
        wait_for(lambda: capture.requests, what="the notification")
        listed = requests.get(f"{base}/_sandbox/webhooks", timeout=10).json()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert capture.topics() == ["contact.lead.created"]
    assert listed["retry_scale"] == 0.01
    assert [s["url"] for s in listed["data"]] == [capture.url]


def test_sandbox_cli_needs_a_secret_for_a_webhook_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "intercom_sandbox", "--port", "0", "--webhook-url", "http://x/"],
        env=env_without_secret(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--client-secret" in result.stderr
