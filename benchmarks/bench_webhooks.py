"""intercom-webhooks: notifications accepted per second, and sandbox write -> stored row.

1. Throughput: the receiver in its own process (as deployed: JSON log line per notification,
   SQLite with synchronous=FULL, or PostgreSQL), pinned to 2 cores; ``--senders`` concurrent
   keep-alive connections (from 2 sender processes) POST signed notifications of a ~2 KB
   contact item for ``--seconds``. Printed: notifications acknowledged per second (each one
   committed before its 200), the average group-commit batch, CPU of the receiver.
2. Latency: a sandbox in this process, subscribed to a receiver process; writer threads
   create contacts through the REST API at ``--rate`` per second for ``--seconds``; a poller
   reads the store every 2 ms. Printed: p50 / p99 / max from the moment a write is sent to
   the moment its row is readable in the store, and the rate achieved. The sandbox delivers
   in order, one notification at a time per subscription (as Intercom's delivery rules are
   modelled), so this path is bounded by one round trip plus one commit.

    python benchmarks/bench_webhooks.py                  # SQLite and PostgreSQL, 5 s each
    python benchmarks/bench_webhooks.py --seconds 10 --senders 32 --rate 1000
    python benchmarks/bench_webhooks.py --no-postgres

PostgreSQL: a throwaway database on 127.0.0.1:5432 (user postgres) is created and dropped;
skipped, with a line saying so, where none answers. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import proc_cpu_seconds

from intercom_webhooks.signature import sign
from intercom_webhooks.store import open_store

SECRET = "bench-client-secret"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TOKEN = "sandbox-token"


# -- the receiver as a process ------------------------------------------------------------------
class Receiver:
    def __init__(self, store: str, log: Path, cores: str = "0,1") -> None:
        cmd = [sys.executable, "-m", "intercom_webhooks", "--port", "0", "--store", store]
        if _has_taskset():
            cmd = ["taskset", "-c", cores, *cmd]
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            cmd,
            env={**os.environ, "INTERCOM_CLIENT_SECRET": SECRET},
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise SystemExit(f"the receiver did not start; see {log}")
        self.base = self.url.rsplit("/", 1)[0]

    def health(self) -> dict[str, Any]:
        return requests.get(self.base + "/healthz", timeout=10).json()

    def cpu(self) -> float:
        return proc_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def postgres_cpu_seconds() -> float:
    """CPU of every PostgreSQL server process on this machine (0 where none is local)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text.split(" (", 1)[1].startswith("postgres)"):
            total += proc_cpu_seconds(int(stat.parent.name))
    return total


def _has_taskset() -> bool:
    return subprocess.run(["which", "taskset"], capture_output=True).returncode == 0


# -- 1. throughput -----------------------------------------------------------------------------
def _item(i: int) -> dict[str, Any]:
    """A contact item about the size Intercom sends (~2 KB)."""
    return {
        "type": "contact",
        "id": f"{i:024x}",
        "workspace_id": "sbx4nd8o",
        "external_id": f"ext-{i}",
        "role": "user",
        "email": f"user{i}@example.com",
        "name": f"User {i}",
        "custom_attributes": {"plan": "pro", "seats": i % 50, "note": "x" * 600},
        "tags": {"type": "list", "data": [], "url": f"/contacts/{i:024x}/tags"},
        "location": {"type": "location", "country": "France", "city": "Paris"},
        "created_at": 1_749_513_600,
        "updated_at": 1_749_513_600,
        **{f"field_{k}": None for k in range(40)},
    }


def _request(path: str, host: str, body: bytes) -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"X-Hub-Signature: {sign(SECRET.encode(), body)}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _status(sock: socket.socket, buf: bytearray) -> int:
    """Read one HTTP response off a keep-alive socket; its status."""
    return _response(sock, buf)[0]


def _sender(url: str, prefix: str, threads: int, seconds: float, out: Any) -> None:
    """One sender process: ``threads`` keep-alive connections POSTing until time is up.

    Raw sockets and requests built ahead (a few µs each): the receiver is measured, not
    Python's http.client.
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    counts = [0] * threads
    errors = [0] * threads
    start = threading.Barrier(threads + 1)

    def run(k: int) -> None:
        batch = [
            _request(
                parts.path,
                parts.netloc,
                orjson.dumps(
                    {
                        "type": "notification_event",
                        "app_id": "sbx4nd8o",
                        "data": {"type": "notification_event_data", "item": _item(i)},
                        "id": f"notif_{prefix}_{k}_{i}",
                        "topic": "contact.user.updated",
                        "delivery_attempts": 1,
                        "first_sent_at": 1_749_513_600,
                        "created_at": 1_749_513_600,
                    }
                ),
            )
            for i in range(int(seconds * 5000 / threads) + 200)
        ]
        sock = socket.create_connection((host, port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        start.wait()
        stop_at = time.monotonic() + seconds
        for request in batch:
            if time.monotonic() >= stop_at:
                break
            try:
                sock.sendall(request)
                if _status(sock, buf) == 200:
                    counts[k] += 1
                else:
                    errors[k] += 1
            except OSError:
                errors[k] += 1
                sock.close()
                sock = socket.create_connection((host, port))
                buf.clear()
        sock.close()

    pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    start.wait()
    began = time.monotonic()
    for t in pool:
        t.join()
    out.put((sum(counts), sum(errors), time.monotonic() - began))


def throughput(store: str, label: str, senders: int, seconds: float, workdir: Path) -> None:
    receiver = Receiver(store, workdir / f"receiver-{label}.log")
    try:
        procs_n = 2
        per_proc = max(1, senders // procs_n)
        queue: Any = mp.get_context("fork").Queue()
        cpu0 = receiver.cpu()
        procs = [
            mp.get_context("fork").Process(
                target=_sender, args=(receiver.url, f"{label}{p}", per_proc, seconds, queue)
            )
            for p in range(procs_n)
        ]
        for p in procs:
            p.start()
        results = [queue.get() for _ in procs]
        for p in procs:
            p.join()
        wall = max(r[2] for r in results)
        cpu = receiver.cpu() - cpu0
        health = receiver.health()
    finally:
        receiver.stop()
    accepted = sum(r[0] for r in results)
    failed = sum(r[1] for r in results)
    stored = health["outcomes"].get("stored", 0)
    batch = stored / health["commits"] if health.get("commits") else 0.0
    print(
        f"  {label:<10} {accepted / wall:8.0f} notifications/s acknowledged "
        f"({accepted} in {wall:.1f} s, {procs_n * per_proc} connections, {failed} not 200); "
        f"stored {stored}, {batch:.1f} per commit; receiver CPU {cpu / wall:.2f} cores"
    )


# -- 2. sandbox write -> row in the store -----------------------------------------------------
class Sandbox:
    """intercom-sandbox in its own process, subscribed to the receiver."""

    def __init__(self, webhook_url: str, concurrency: int, log: Path) -> None:
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "intercom_sandbox",
                "--port",
                "0",
                "--rate-limit-per-minute",
                "100000000",
                "--webhook-url",
                webhook_url,
                "--webhook-concurrency",
                str(concurrency),
            ],
            env={**os.environ, "INTERCOM_CLIENT_SECRET": SECRET},
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.proc.stdout is not None
        self.base = self.proc.stdout.readline().strip()
        parts = urlsplit(self.base)
        self.address = (parts.hostname or "127.0.0.1", parts.port or 80)

    def webhooks(self) -> dict[str, Any]:
        return requests.get(self.base + "/_sandbox/webhooks", timeout=10).json()["data"][0]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()


def _create_contact(host: str, k: int, j: int) -> bytes:
    body = orjson.dumps({"role": "lead", "email": f"w{k}-{j}@example.com", "name": f"W {k} {j}"})
    head = (
        f"POST /contacts HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Accept: application/json\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def _response(sock: socket.socket, buf: bytearray) -> tuple[int, bytes]:
    """One HTTP response off a keep-alive socket: (status, body)."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        rest += chunk
    buf[:] = rest[length:]
    return int(head.split(b" ", 2)[1]), rest[:length]


def latency(
    store: str, label: str, rate: float, seconds: float, concurrency: int, workdir: Path
) -> None:
    receiver = Receiver(store, workdir / f"receiver-latency-{label}.log")
    sandbox = Sandbox(receiver.url, concurrency, workdir / f"sandbox-{label}.log")
    reader = open_store(store, create=False)
    sent: dict[str, float] = {}  # contact id -> when its write was sent
    seen: dict[str, float] = {}  # contact id -> when its row was first readable
    refused = [0]
    done = threading.Event()

    def poll() -> None:
        after = 0
        while not done.is_set():
            rows = reader.read(after, 10_000)
            now = time.monotonic()
            for row in rows:
                seen.setdefault(row.notification.item_id or "", now)
            if rows:
                after = rows[-1].seq
            time.sleep(0.002)  # at most 2 ms late, and light on the database

    writers = 4
    per_writer = rate / writers
    each = int(rate * seconds / writers)

    def write(k: int) -> None:
        host = f"{sandbox.address[0]}:{sandbox.address[1]}"
        requests_ = [_create_contact(host, k, j) for j in range(each)]
        sock = socket.create_connection(sandbox.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        start = time.monotonic()
        for j, request in enumerate(requests_):
            pause = start + j / per_writer - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            t = time.monotonic()
            sock.sendall(request)
            status, body = _response(sock, buf)
            if status == 200:
                sent[orjson.loads(body)["id"]] = t
            else:
                refused[0] += 1
        sock.close()

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    t0 = time.monotonic()
    cpu0 = (proc_cpu_seconds(sandbox.proc.pid), receiver.cpu(), postgres_cpu_seconds())
    pool = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wrote = time.monotonic() - t0
    deadline = time.monotonic() + 60
    while len(seen) < len(sent) and time.monotonic() < deadline:
        time.sleep(0.01)
    done.set()
    poller.join()
    span = time.monotonic() - t0
    cpu = (
        proc_cpu_seconds(sandbox.proc.pid) - cpu0[0],
        receiver.cpu() - cpu0[1],
        postgres_cpu_seconds() - cpu0[2],
    )
    stats = sandbox.webhooks()
    sandbox.stop()
    reader.close()
    receiver.stop()
    lat = sorted((seen[i] - t) * 1000 for i, t in sent.items() if i in seen)
    missing = len(sent) - len(lat)
    q = statistics.quantiles(lat, n=100) if len(lat) >= 2 else [0.0] * 99
    notes = []
    if missing:
        notes.append(f"{missing} not stored within 60 s")
    if refused[0]:
        notes.append(f"{refused[0]} writes refused")
    if stats["failed"] or stats["retries"]:
        notes.append(f"deliveries failed {stats['failed']}, retried {stats['retries']}")
    print(
        f"  {label:<10} in flight {concurrency}, target {rate:5.0f}/s, wrote "
        f"{len(sent) / wrote:5.0f}/s: p50 {q[49]:7.1f} ms  p99 {q[98]:7.1f} ms  "
        f"max {lat[-1] if lat else 0:7.1f} ms; CPU sandbox {cpu[0] / span:.2f}, receiver "
        f"{cpu[1] / span:.2f}, PostgreSQL {cpu[2] / span:.2f}"
        f"{'  (' + '; '.join(notes) + ')' if notes else ''}"
    )


# -- main ----------------------------------------------------------------------------------------
def postgres_database() -> tuple[str, Any] | None:
    try:
        import psycopg

        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except Exception as e:
        print(f"  (PostgreSQL skipped: nothing answers on 127.0.0.1:5432: {e})")
        return None
    name = f"webhooks_bench_{secrets.token_hex(4)}"
    admin.execute(f"CREATE DATABASE {name}")
    return f"postgresql://postgres@127.0.0.1:5432/{name}", (admin, name)


def drop_table(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS intercom_webhook_notifications")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--senders", type=int, default=16, help="concurrent connections")
    p.add_argument(
        "--latency-runs",
        nargs="+",
        default=["1:200", "1:500", "8:1000"],
        metavar="N:RATE",
        help="latency runs as deliveries-in-flight:writes-per-second (default: 1:200 1:500 8:1000)",
    )
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument("--no-sqlite", action="store_true")
    args = p.parse_args()
    print(
        f"intercom-webhooks benchmark: {os.cpu_count()} CPUs here, receiver pinned to 2 "
        f"cores (taskset: {'yes' if _has_taskset() else 'no'}), Python {sys.version.split()[0]}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as tmp:
        workdir = Path(tmp)
        stores: list[tuple[str, str]] = []
        if not args.no_sqlite:
            stores.append(("sqlite", str(workdir / "webhooks.sqlite3")))
        pg = None if args.no_postgres else postgres_database()
        if pg is not None:
            stores.append(("postgresql", pg[0]))
        try:
            print(f"1. notifications accepted per second ({args.senders} concurrent senders):")
            for label, store in stores:
                throughput(store, label, args.senders, args.seconds, workdir)
            print("2. sandbox write -> its row in the store (one subscription):")
            for label, store in stores:
                for run in args.latency_runs:
                    concurrency, rate = int(run.split(":")[0]), float(run.split(":")[1])
                    if label == "sqlite":
                        for f in workdir.glob("webhooks.sqlite3*"):
                            f.unlink()
                    else:
                        drop_table(store)
                    open_store(store).close()
                    latency(store, label, rate, args.seconds, concurrency, workdir)
        finally:
            if pg is not None:
                admin, name = pg[1]
                admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
