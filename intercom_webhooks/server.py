"""The receiver's HTTP side: a threaded standard-library server (HTTP/1.1 keep-alive).

A notification goes through, in order (FACTS.md §7): size limit (413, the body unread) ->
raw body -> ``X-Hub-Signature`` on those bytes (401) -> JSON envelope (400) -> ``ping``
answered (200, not stored) -> the group committer (200 once committed; 503 if the store
fails or is slower than ``commit_timeout``, which Intercom retries). Intercom waits 5 s for
an answer, so nothing else happens in the request. One log line per notification.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import orjson

from intercom_webhooks import envelope, signature
from intercom_webhooks.store import CommitTimeout, GroupCommitter, Store, StoreError

log = logging.getLogger("intercom_webhooks")

DEFAULT_MAX_BODY = 5 * 1024 * 1024  # a conversation with its parts stays well below this
COMMIT_TIMEOUT = 4.0  # Intercom gives up after 5 s (FACTS.md §7): answer before that
HEALTH_PATHS = ("/healthz", "/health")


@dataclass
class ReceiverConfig:
    secret: bytes = field(repr=False)
    path: str = "/"
    max_body_bytes: int = DEFAULT_MAX_BODY
    commit_timeout: float = COMMIT_TIMEOUT


class Counters:
    """What the health endpoint reports: outcomes since start."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.by_outcome: dict[str, int] = {}

    def add(self, outcome: str) -> None:
        with self._lock:
            self.by_outcome[outcome] = self.by_outcome.get(outcome, 0) + 1

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self.by_outcome)


class Receiver:
    """What the HTTP handler calls: the rules of a notification, no socket in sight."""

    def __init__(self, config: ReceiverConfig, store: Store) -> None:
        self.config = config
        self.store = store
        self.committer = GroupCommitter(store)
        self.counters = Counters()
        self.started = time.time()

    def accept(self, body: bytes, header: str | None) -> tuple[int, dict[str, Any], dict[str, Any]]:
        """(status, response body, log fields) for one notification's raw body."""
        if not signature.verify(self.config.secret, body, header):
            reason = "missing" if not header else "mismatch"
            return (
                401,
                {"error": "invalid X-Hub-Signature"},
                {"outcome": "bad_signature", "why": reason},
            )
        try:
            incoming = envelope.parse(body, time.time())
        except envelope.BadNotification as e:
            return 400, {"error": str(e)}, {"outcome": "bad_request", "why": str(e)}
        if incoming is None:
            return 200, {"ok": True, "ping": True}, {"outcome": "ping", "topic": envelope.PING}
        fields: dict[str, Any] = {
            "id": incoming.notification_id,
            "topic": incoming.topic,
            "item": f"{incoming.item_type}:{incoming.item_id}",
            "attempt": incoming.delivery_attempts,
        }
        try:
            result = self.committer.submit(incoming, self.config.commit_timeout)
        except CommitTimeout:
            return 503, {"error": "store busy; retry"}, {**fields, "outcome": "commit_timeout"}
        except StoreError as e:
            return (
                503,
                {"error": "store unavailable; retry"},
                {**fields, "outcome": "store_error", "why": str(e)},
            )
        if result.duplicate:
            return 200, {"ok": True, "duplicate": True}, {**fields, "outcome": "duplicate"}
        return (
            200,
            {"ok": True, "seq": result.seq},
            {**fields, "outcome": "stored", "seq": result.seq},
        )

    def health(self) -> tuple[int, dict[str, Any]]:
        """200 when the store answers. Says nothing of where the store is (the endpoint may
        be reachable through the proxy); the log has the details."""
        body: dict[str, Any] = {
            "store": self.store.kind,
            "uptime_s": round(time.time() - self.started, 1),
            "outcomes": self.counters.snapshot(),
            "commits": self.committer.batches,
        }
        try:
            body["last_seq"] = self.store.last_seq()
        except Exception as e:
            log.warning("health", extra={"fields": {"outcome": "store_error", "why": str(e)}})
            return 503, {**body, "status": "store unavailable"}
        return 200, {**body, "status": "ok"}

    def close(self) -> None:
        self.committer.close()
        self.store.close()


class _BodyError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ReceiverHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "intercom-webhooks"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection is closed after this
    server: ReceiverHTTPServer

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        super().setup()
        # Nagle plus delayed ACKs would add ~40 ms to every keep-alive answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, busy=False)

    def finish(self) -> None:
        self.server.untrack(self.connection)
        super().finish()

    def parse_request(self) -> bool:
        self.server.track(self.connection, busy=True)  # a request line arrived
        return super().parse_request()

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            if self.server.draining:
                self.close_connection = True
            self.server.track(self.connection, busy=False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        """Status line, headers and body in one write (one syscall per answer)."""
        payload = orjson.dumps(body)
        if self.server.draining:
            self.close_connection = True
        head = (
            f"{self.protocol_version} {status} {HTTPStatus(status).phrase}\r\n"
            f"Server: {self.server_version}\r\nDate: {self.date_time_string()}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
            + ("Connection: close\r\n" if self.close_connection else "")
            + "\r\n"
        )
        self.log_request(status)
        self.wfile.write(head.encode("latin-1") + (b"" if self.command == "HEAD" else payload))

    def _read_body(self, limit: int) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                except ValueError:
                    raise _BodyError(400, "invalid chunk size") from None
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > limit:
                    raise _BodyError(413, f"body over {limit} bytes")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            raise _BodyError(411, "Content-Length required")
        try:
            length = int(length_text)
        except ValueError:
            raise _BodyError(400, "invalid Content-Length") from None
        if length < 0:
            raise _BodyError(400, "invalid Content-Length")
        if length > limit:
            raise _BodyError(413, f"body over {limit} bytes")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BodyError(400, "body shorter than its Content-Length")
        return body

    def do_POST(self) -> None:
        receiver = self.server.receiver
        start = time.perf_counter()
        path = urlsplit(self.path).path
        fields: dict[str, Any]
        if path != receiver.config.path:
            self.close_connection = True  # the body stays unread
            status, body, fields = 404, {"error": "unknown path"}, {"outcome": "not_found"}
        else:
            try:
                raw = self._read_body(receiver.config.max_body_bytes)
            except _BodyError as e:
                self.close_connection = True  # whatever is left of the body is not a request
                outcome = "too_large" if e.status == 413 else "bad_request"
                status, body, fields = e.status, {"error": str(e)}, {"outcome": outcome}
            except (ConnectionError, TimeoutError):
                self.close_connection = True
                return
            else:
                status, body, fields = receiver.accept(raw, self.headers.get(signature.HEADER))
        receiver.counters.add(fields["outcome"])
        fields["status"] = status
        fields["ms"] = round((time.perf_counter() - start) * 1000, 2)
        fields["remote"] = self.client_address[0]
        log.info("notification", extra={"fields": fields})
        try:
            self._answer(status, body)
        except OSError:
            self.close_connection = True

    def do_GET(self) -> None:
        if urlsplit(self.path).path in HEALTH_PATHS:
            status, body = self.server.receiver.health()
        else:
            status, body = 404, {"error": "unknown path"}
        self._answer(status, body)

    do_HEAD = do_GET

    def _not_allowed(self) -> None:
        self.close_connection = True
        self._answer(405, {"error": "method not allowed"})

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed


class ReceiverHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], receiver: Receiver) -> None:
        self.receiver = receiver
        self.draining = False
        self._conns: dict[socket.socket, bool] = {}  # connection -> busy with a request
        self._conns_lock = threading.Condition()
        super().__init__(address, ReceiverHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def track(self, conn: socket.socket, *, busy: bool) -> None:
        with self._conns_lock:
            self._conns[conn] = busy
            self._conns_lock.notify_all()

    def untrack(self, conn: socket.socket) -> None:
        with self._conns_lock:
            self._conns.pop(conn, None)
            self._conns_lock.notify_all()

    def drain(self, timeout: float) -> int:
        """Stop taking requests; let those in flight finish. Returns how many were cut off.

        Call after ``shutdown()`` (no new connections). Idle keep-alive connections are
        closed at once; busy ones answer (with ``Connection: close``) and close.
        """
        self.draining = True
        deadline = time.monotonic() + timeout
        with self._conns_lock:
            while True:
                for conn, busy in list(self._conns.items()):
                    if not busy:
                        _shut(conn)
                if not any(self._conns.values()) or time.monotonic() >= deadline:
                    break
                self._conns_lock.wait(0.05)
            cut = sum(1 for busy in self._conns.values() if busy)
            for conn in list(self._conns):
                _shut(conn)
        return cut


def _shut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RD)


class RunningReceiver:
    """A receiver serving from a background thread: what tests and benchmarks start."""

    def __init__(self, receiver: Receiver, host: str = "127.0.0.1", port: int = 0) -> None:
        self.receiver = receiver
        self.httpd = ReceiverHTTPServer((host, port), receiver)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return self.httpd.base_url

    @property
    def url(self) -> str:
        """Where Intercom (or the sandbox) should send notifications."""
        return self.base_url + self.receiver.config.path

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful: no new connections, in-flight requests finish, the store is closed."""
        self.httpd.shutdown()
        self.httpd.server_close()
        cut = self.httpd.drain(timeout)
        if cut:
            log.warning("stopped", extra={"fields": {"cut_off_requests": cut}})
        self.receiver.close()

    def __enter__(self) -> RunningReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(
    store: Store,
    secret: bytes,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    path: str = "/",
    max_body_bytes: int = DEFAULT_MAX_BODY,
    commit_timeout: float = COMMIT_TIMEOUT,
) -> RunningReceiver:
    """Serve a receiver in this process (port 0 picks a free port)."""
    config = ReceiverConfig(
        secret=secret, path=path, max_body_bytes=max_body_bytes, commit_timeout=commit_timeout
    )
    return RunningReceiver(Receiver(config, store), host, port)
