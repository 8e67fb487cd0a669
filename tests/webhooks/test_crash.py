"""The receiver as a process (``python -m intercom_webhooks``), killed in the middle of a
burst: no acknowledged notification is lost, and the sandbox re-delivers the others (after
its scaled retry delay) to the restarted receiver; a SIGTERM stops it gracefully."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from webhook_support import SECRET, TOKEN, stored, wait_for

from intercom_sandbox.server import RunningSandbox, start

BURST = 600
# Intercom retries after a minute; here after 3 s, twice: time enough to restart.
RETRY_SCALE = 0.05


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ReceiverProcess:
    """intercom-webhooks in a child process, on a fixed port so it can be restarted."""

    def __init__(self, location: str, log_dir: Path) -> None:
        self.location = location
        self.port = free_port()
        self.log_dir = log_dir
        self.proc: subprocess.Popen[str] | None = None
        self.runs = 0
        self.url = ""

    def start(self) -> str:
        self.runs += 1
        stderr = (self.log_dir / f"receiver-{self.runs}.log").open("w")
        env = {**os.environ, "INTERCOM_CLIENT_SECRET": SECRET}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "intercom_webhooks",
                "--port",
                str(self.port),
                "--path",
                "/hooks",
                "--store",
                self.location,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()  # printed once it listens
        assert self.url.endswith(f":{self.port}/hooks"), self.logs()
        return self.url

    def signal(self, signum: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        return self.proc.wait(30)

    def logs(self) -> str:
        return "".join(p.read_text() for p in sorted(self.log_dir.glob("receiver-*.log")))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def process(store_location: str, tmp_path: Path) -> Iterator[ReceiverProcess]:
    rp = ReceiverProcess(store_location, tmp_path)
    try:
        yield rp
    finally:
        rp.stop()


@pytest.fixture
def sandbox(process: ReceiverProcess) -> Iterator[RunningSandbox]:
    url = process.start()
    sbx = start(
        tokens=[TOKEN],
        random_seed=11,
        webhook_url=url,
        client_secret=SECRET,
        webhook_retry_scale=RETRY_SCALE,
    )
    try:
        yield sbx
    finally:
        sbx.stop()
        sbx.backend.webhooks.close()


def burst(sbx: RunningSandbox, n: int) -> tuple[threading.Thread, list[str]]:
    """Create ``n`` leads from a background thread (each fires contact.lead.created)."""
    created: list[str] = []

    def run() -> None:
        for i in range(n):
            with sbx.backend.lock:
                created.append(
                    sbx.backend.contacts.create({"role": "lead", "email": f"{i}@x.io"})["id"]
                )

    thread = threading.Thread(target=run)
    thread.start()
    return thread, created


def check_everything_arrived_once_in_order(
    sbx: RunningSandbox, location: str, created: list[str], acked_before: list[str]
) -> None:
    sender = sbx.backend.webhooks
    assert sender.wait_idle(60), sender.list()
    [sub] = sender.list()
    assert (sub["delivered"], sub["failed"]) == (BURST, 0), sub
    assert sub["retries"] >= 1  # the stop cut at least one delivery: it was sent again
    rows = stored(location)
    ids = [r.notification.notification_id for r in rows]
    assert len(ids) == len(set(ids)) == BURST  # every notification, once
    assert set(acked_before) <= set(ids)  # nothing acknowledged was lost
    assert [r.notification.item_id for r in rows] == created  # in order


def test_sigkill_in_a_burst_loses_no_acknowledged_notification(
    sandbox: RunningSandbox, process: ReceiverProcess, store_location: str
) -> None:
    sender = sandbox.backend.webhooks
    thread, created = burst(sandbox, BURST)
    wait_for(lambda: sender.list()[0]["delivered"] >= BURST // 4, what="a quarter delivered")
    assert process.signal(signal.SIGKILL) == -signal.SIGKILL
    acked_before = sender.delivered_ids("sub_1")
    assert len(acked_before) < BURST  # killed in the middle of the burst
    thread.join()
    # Everything acknowledged before the kill is already in the store, before any restart.
    assert set(acked_before) <= {r.notification.notification_id for r in stored(store_location)}
    process.start()  # same port: the sandbox's retries find it
    check_everything_arrived_once_in_order(sandbox, store_location, created, acked_before)
    assert SECRET not in process.logs()


def test_sigterm_stops_gracefully_and_nothing_is_lost(
    sandbox: RunningSandbox, process: ReceiverProcess, store_location: str
) -> None:
    sender = sandbox.backend.webhooks
    thread, created = burst(sandbox, BURST)
    wait_for(lambda: sender.list()[0]["delivered"] >= BURST // 4, what="a quarter delivered")
    assert process.signal(signal.SIGTERM) == 0
    acked_before = sender.delivered_ids("sub_1")
    thread.join()
    assert '"event":"stopped"' in process.logs()
    assert set(acked_before) <= {r.notification.notification_id for r in stored(store_location)}
    process.start()
    check_everything_arrived_once_in_order(sandbox, store_location, created, acked_before)
    assert SECRET not in process.logs()
