"""The HTTP layer: a threaded standard-library server (HTTP/1.1 keep-alive) in front of the backend.

Why the standard library: no dependency, and full control of the socket, which the fault
injector needs (a dropped connection, a body cut short). orjson keeps encoding cheap.

Order of checks for an Intercom path (as the real API behaves, FACTS.md §1, §5, §6):
fault draw -> auth (401, no rate headers) -> Intercom-Version -> rate limit (429) ->
route (404) -> the token's permissions (403) -> body parse (400) -> handler under the
backend lock -> encode -> fault after.
"""

from __future__ import annotations

import hmac
import importlib
import json
import logging
import socket
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import orjson

from intercom_sandbox import exceptions as exc
from intercom_sandbox.backend import Backend
from intercom_sandbox.faults import Faults
from intercom_sandbox.permissions import Token, forbidden_message, parse_token
from intercom_sandbox.ratelimit import WindowRateLimiter
from intercom_sandbox.urls import API_ROUTES, SANDBOX_ROUTES, Route, match

log = logging.getLogger("intercom_sandbox")

DEFAULT_VERSION = "2.16"
# The 2.16 spec's `intercom_version` enum [S16:32229].
KNOWN_VERSIONS = frozenset(["1.0", "1.1", "1.2", "1.3", "1.4"] + [f"2.{i}" for i in range(17)])
# ... plus Preview, and its old name Unstable, which "will continue to work" (FACTS.md §1).
KNOWN_VERSIONS |= {"Preview", "Unstable"}
MAX_BODY_BYTES = 8 * 1024 * 1024


@dataclass
class Request:
    method: str
    path: str
    path_params: dict[str, str]
    query: dict[str, str]
    query_lists: dict[str, list[str]]
    headers: Any
    raw_body: bytes
    version: str
    operation_id: str
    _json: Any = field(default=None, repr=False)
    _parsed: bool = field(default=False, repr=False)

    @property
    def json(self) -> Any:
        """The JSON body; an empty body is ``{}``; invalid JSON is Intercom's 400."""
        if not self._parsed:
            self._parsed = True
            if not self.raw_body.strip():
                self._json = {}
            else:
                try:
                    self._json = orjson.loads(self.raw_body)
                except orjson.JSONDecodeError as e:
                    raise exc.ParameterInvalid("Request body is not valid JSON") from e
        return self._json

    def body_object(self) -> dict[str, Any]:
        """The JSON body, which must be an object."""
        body = self.json
        if not isinstance(body, dict):
            raise exc.ParameterInvalid("Request body must be a JSON object")
        return body


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-able; None sends an empty body
    headers: dict[str, str] = field(default_factory=dict)


class Stats:
    """Requests per operation and status, and faults injected: how tests count API calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.by_operation: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
            self.total = 0

    def record(self, operation_id: str, status: int | str) -> None:
        with self._lock:
            self.by_operation[operation_id][str(status)] += 1
            self.total += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": self.total,
                "operations": {op: dict(st) for op, st in sorted(self.by_operation.items())},
            }


class SandboxApp:
    """Everything one sandbox instance holds: state, tokens, limiter, faults, stats."""

    def __init__(
        self,
        *,
        tokens: list[str] | tuple[str, ...] = ("sandbox-token",),
        backend: Backend | None = None,
        rate_limit_per_minute: int = 10_000,
        random_seed: int = 0,
    ) -> None:
        # "NAME" (every permission) or "NAME:perm1,perm2" (intercom_sandbox/permissions.py)
        self.tokens = [parse_token(t) for t in tokens]
        self.backend = backend or Backend(random_seed=random_seed)
        self.limiter = WindowRateLimiter(rate_limit_per_minute)
        self.faults = Faults(random_seed)
        self.stats = Stats()
        # Callables (operation_id, status, body bytes) told of every Intercom response
        # served: how the conformance tests check each body against the spec.
        self.observers: list[Any] = []
        self._handlers: dict[str, Any] = {}

    def observe(self, operation_id: str, status: int, payload: bytes) -> None:
        for observer in self.observers:
            observer(operation_id, status, payload)

    def handler_for(self, route: Route) -> Any:
        fn = self._handlers.get(route.handler)
        if fn is None:
            module_name, func_name = route.handler.rsplit(".", 1)
            try:
                module = importlib.import_module(f"intercom_sandbox.responses.{module_name}")
                fn = getattr(module, func_name)
            except (ImportError, AttributeError) as e:
                raise exc.NotImplementedYet(
                    f"{route.method} {route.template} is not modelled by the sandbox"
                ) from e
            self._handlers[route.handler] = fn
        return fn

    def token_for(self, header: str | None) -> Token | None:
        """The token a ``Bearer`` header carries, if the sandbox accepts it."""
        if not header or not header.startswith("Bearer "):
            return None
        given = header[7:].strip().encode()
        found = None
        for t in self.tokens:  # compare with every token: no early exit to time
            if hmac.compare_digest(given, t.secret):
                found = found or t
        return found

    def token_ok(self, header: str | None) -> bool:
        return self.token_for(header) is not None


def encode(body: Any) -> bytes:
    return b"" if body is None else orjson.dumps(body)


class SandboxHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "intercom-sandbox"
    sys_version = ""

    def version_string(self) -> str:
        return self.server_version

    timeout = 120  # an idle keep-alive connection is closed after this
    # Garbage without a version still gets a status line (the stdlib default is HTTP/0.9).
    default_request_version = "HTTP/1.1"

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the stdlib parser raises (bad request line, unknown method, huge headers)
        answered in Intercom's JSON envelope instead of the stdlib's HTML page; then close."""
        self.close_connection = True
        status = {400: exc.BadRequest, 404: exc.NotFound, 405: exc.MethodNotAllowed}.get(code)
        err = status(message or "Bad request") if status else exc.IntercomError(message)
        err.status = code
        payload = encode(err.body(str(uuid.uuid4())))
        try:
            self.send_response(code, message)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(payload)
        except OSError:
            pass

    def setup(self) -> None:
        super().setup()
        # Without TCP_NODELAY, Nagle's algorithm and the client's delayed ACK add ~40 ms
        # to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    server: SandboxHTTPServer

    # -- plumbing -----------------------------------------------------------------
    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def date_time_string(self, timestamp: float | None = None) -> str:
        # The Date header follows the sandbox clock, so clients can read server time.
        ts = self.server.app.backend.clock.now() if timestamp is None else timestamp
        return formatdate(ts, usegmt=True)

    def _read_body(self) -> bytes:
        try:
            return self._read_body_unchecked()
        except exc.IntercomError:
            # The rest of the body stays unread: close after answering, so it cannot be
            # parsed as the next request on this connection.
            self.close_connection = True
            raise

    def _read_body_unchecked(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            total = 0
            while True:
                line = self.rfile.readline(65537)
                try:
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                except ValueError as e:
                    raise exc.BadRequest("Invalid chunk size in a chunked body") from e
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    break
                total += size
                if total > MAX_BODY_BYTES:
                    raise exc.PayloadTooLarge()
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
            return b"".join(chunks)
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError as e:
            raise exc.BadRequest("Invalid Content-Length") from e
        if length < 0:
            raise exc.BadRequest("Invalid Content-Length")
        if length > MAX_BODY_BYTES:
            raise exc.PayloadTooLarge()
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, payload: bytes, headers: dict[str, str], *, truncate: bool = False
    ) -> None:
        self.send_response(status)
        if payload or status not in (202, 204):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for k, v in headers.items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if truncate:
            self.wfile.write(payload[: len(payload) // 2])
            self.wfile.flush()
            self._abort()
            return
        self.wfile.write(payload)

    def _abort(self) -> None:
        """Drop the connection: no (more) bytes, then a reset."""
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- verbs ----------------------------------------------------------------------
    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_HEAD(self) -> None:
        self._handle("HEAD")

    def do_OPTIONS(self) -> None:
        self._handle("OPTIONS")

    # -- the request ----------------------------------------------------------------
    def _handle(self, method: str) -> None:
        app = self.server.app
        request_id = str(uuid.uuid4())
        # "//contacts/1/tags" (singer-io/tap-intercom joins base + "/" + a "/..." url) is
        # the path //contacts/..., not a host: see intercom_sandbox/README.md.
        parts = urlsplit("/" + self.path.lstrip("/") if self.path.startswith("//") else self.path)
        path = unquote(parts.path).rstrip("/") or "/"
        extra_headers: dict[str, str] = {"X-Request-Id": request_id}
        operation_id = "unknown"
        fault: str | None = None
        try:
            raw = self._read_body()
            if path.startswith("/_sandbox/"):
                route, params, _ = match(SANDBOX_ROUTES, method, path)
                if route is None:
                    raise exc.NotFound(f"No sandbox control route {method} {path}")
                req = self._request(route, params, parts.query, raw, DEFAULT_VERSION)
                response = self._call(app, route, req)
                self._send(response.status, encode(response.body), response.headers)
                return

            route, params, _known = match(API_ROUTES, method, path)
            operation_id = route.operation_id if route else "unknown"
            fault, delay = app.faults.draw(operation_id)
            if delay:
                time.sleep(delay)
            if fault in ("500", "503"):
                raise (exc.ServerError if fault == "500" else exc.ServiceUnavailable)()
            if fault == "echo_token":
                # Some APIs quote the Authorization header back in an error message.
                raise exc.ServerError(
                    "Internal server error while handling Authorization: "
                    f"{self.headers.get('Authorization') or '(none)'}"
                )

            token = app.token_for(self.headers.get("Authorization"))
            if token is None:
                raise exc.Unauthorized()
            version = self.headers.get("Intercom-Version") or DEFAULT_VERSION
            if version not in KNOWN_VERSIONS:
                raise exc.IntercomVersionInvalid(
                    f"The requested version could not be found: {version!r}"
                )
            accept = self.headers.get("Accept")
            if accept and not any(
                a.split(";")[0].strip() in ("application/json", "*/*", "application/*")
                for a in accept.split(",")
            ):
                raise exc.NotAcceptable()

            late = app.faults.late_reset(fault)
            if late is not None:
                # Window spent until a Reset later than the window's end: refused (and not
                # counted) until then, whatever the client's own window says (FACTS.md §5).
                limit = app.limiter.per_window
                extra_headers.update(
                    {
                        "X-RateLimit-Limit": str(limit),
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": str(late),
                    }
                )
                raise exc.RateLimitExceeded(f"Exceeded rate limit of {limit} in 10_seconds")
            decision = app.limiter.hit()
            extra_headers.update(decision.headers())
            # The "429" fault: the hit was allowed, so its headers still show budget left.
            if not decision.allowed or fault == "429":
                raise exc.RateLimitExceeded(
                    f"Exceeded rate limit of {decision.limit} in 10_seconds"
                )
            if route is None:
                # Intercom answers 404 for unknown paths and for unsupported methods (§6).
                raise exc.NotFound(f"Resource not found: {method} {path}")
            missing = token.missing(operation_id)
            if missing is not None:  # the app lacks a permission: 403 (FACTS.md §6)
                raise exc.Forbidden(forbidden_message(missing))

            req = self._request(route, params, parts.query, raw, version)
            response = self._call(app, route, req)
            payload = encode(response.body)
            headers = {**extra_headers, **response.headers}
            app.stats.record(operation_id, 502 if fault == "502" else response.status)
            if fault == "drop":
                self._abort()
                return
            if fault == "502":
                err = exc.BadGateway()
                self._send(502, encode(err.body(request_id)), headers)
                return
            app.observe(operation_id, response.status, payload)
            self._send(response.status, payload, headers, truncate=fault == "truncate")
        except exc.IntercomError as e:
            payload = encode(e.body(request_id))
            if not path.startswith("/_sandbox/"):
                app.stats.record(operation_id, e.status)
                app.observe(operation_id, e.status, payload)
            headers = {**extra_headers, **e.headers}
            try:
                self._send(e.status, payload, headers)
            except OSError:  # the client hung up first
                self.close_connection = True
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception:  # a sandbox bug must look like Intercom's 500, never a hang
            log.exception("sandbox error on %s %s", method, path)
            if not path.startswith("/_sandbox/"):
                app.stats.record(operation_id, 500)
            err = exc.ServerError()
            try:
                self._send(500, encode(err.body(request_id)), extra_headers)
            except OSError:
                self.close_connection = True

    def _request(
        self, route: Route, params: dict[str, str], query: str, raw: bytes, version: str
    ) -> Request:
        qs = parse_qs(query, keep_blank_values=True)
        return Request(
            method=route.method,
            path=route.template,
            path_params=params,
            query={k: v[-1] for k, v in qs.items()},
            query_lists=qs,
            headers=self.headers,
            raw_body=raw,
            version=version,
            operation_id=route.operation_id,
        )

    def _call(self, app: SandboxApp, route: Route, req: Request) -> Response:
        fn = app.handler_for(route)
        with app.backend.lock:
            result = fn(app, req) if route.handler.startswith("control.") else fn(app.backend, req)
            if not isinstance(result, Response):
                result = Response(200, result)
            # Encode inside the lock: bodies may reference live state.
            result.body = orjson.Fragment(encode(result.body)) if result.body is not None else None
        return result


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        super().__init__(address, SandboxHandler)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class RunningSandbox:
    """A sandbox serving from a background thread; what tests and benchmarks start."""

    def __init__(self, app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.httpd = SandboxHTTPServer((host, port), app)
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return self.httpd.base_url

    @property
    def backend(self) -> Backend:
        return self.app.backend

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tokens: list[str] | tuple[str, ...] = ("sandbox-token",),
    rate_limit_per_minute: int = 10_000,
    random_seed: int = 0,
    search_lag_seconds: float = 0.0,
    seed: dict[str, int] | None = None,
    clock_start: float | None = None,
    email_match: str = "case_insensitive",
    conversation_order: str = "sorted",
    contact_date_precision: str = "day",
    timezone: str = "UTC",
    deleted_order: str = "deleted_at",
    webhook_url: str | None = None,
    client_secret: str | None = None,
    webhook_topics: list[str] | None = None,
    webhook_retry_scale: float = 1.0,
    webhook_concurrency: int = 1,
) -> RunningSandbox:
    """Start a sandbox in this process (port 0 picks a free port) and return it.

    ``tokens``: ``"NAME"`` (every permission) or ``"NAME:perm1,perm2"`` (only those, by
    Intercom's names; ValueError for an unknown one): ``intercom_sandbox/permissions.py``.
    ``email_match`` ... ``timezone`` are the behaviour switches of
    ``intercom_sandbox/settings.py``. ``webhook_url`` with ``client_secret`` subscribes that
    URL (to ``webhook_topics``, default all) after seeding; ``webhook_retry_scale`` scales
    the delivery retry delays, ``webhook_concurrency`` > 1 delivers that many at once
    (``intercom_sandbox/webhooks.py``).
    """
    from intercom_sandbox.clock import Clock
    from intercom_sandbox.settings import Settings

    backend = Backend(
        random_seed=random_seed,
        search_lag_seconds=search_lag_seconds,
        clock=Clock(clock_start),
        settings=Settings(
            email_match=email_match,
            conversation_order=conversation_order,
            contact_date_precision=contact_date_precision,
            timezone=timezone,
            deleted_order=deleted_order,
        ),
    )
    app = SandboxApp(
        tokens=tokens,
        backend=backend,
        rate_limit_per_minute=rate_limit_per_minute,
        random_seed=random_seed,
    )
    if seed:
        from intercom_sandbox.seed import seed_backend

        seed_backend(backend, seed)
        freeze_heap()
    backend.webhooks.retry_scale = webhook_retry_scale
    if webhook_url:
        backend.webhooks.subscribe(
            webhook_url, client_secret or "", webhook_topics, webhook_concurrency
        )
    return RunningSandbox(app, host, port)


def freeze_heap() -> None:
    """Move seeded objects out of the garbage collector's reach: a big seeded heap otherwise
    makes every collection walk it (measured: ~30% of a search page's server CPU)."""
    import gc

    gc.collect()
    gc.freeze()


def dumps_pretty(body: Any) -> str:
    return json.dumps(body, indent=2, ensure_ascii=False)
