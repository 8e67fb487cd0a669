"""IntercomClient: the one place that sends HTTP requests to Intercom.

It adds auth and the version header (FACTS.md §1), spends the shared rate limiter (§5),
retries what can be retried with exponential backoff and jitter, and turns failures into the
types of ``intercom_api.errors`` (§6). Thread-safe: each thread gets its own keep-alive
session; stats and the limiter are shared.
"""

from __future__ import annotations

import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from intercom_api import errors
from intercom_api.pagination import walk_cursor
from intercom_api.query import validate as validate_query
from intercom_api.ratelimit import WINDOW_SECONDS, RateLimiter, shared_limiter, window_spent
from intercom_api.settings import ClientSettings

log = logging.getLogger("intercom_api")

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
_RETRY_STATUSES = frozenset({408, 500, 502, 503, 504})
_EMPTY: Mapping[str, str] = {}
# First backoff step (s) of a request throttled by a 429 with budget left; then it doubles.
_THROTTLE_BACKOFF = 0.5


@dataclass
class ApiResponse:
    """One answered request: status, parsed JSON body (None when empty), headers, request id."""

    status: int
    data: Any
    headers: Mapping[str, str]
    request_id: str | None
    content: bytes = b""  # the raw body; ``data`` is None when asked for ``raw``


class _Failure(Exception):
    """Internal: a retryable failure; ``sent`` False proves the server never saw the request."""

    def __init__(self, kind: str, detail: str, *, sent: bool, status: int | None = None) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.sent = sent
        self.status = status
        self.headers: Mapping[str, str] = _EMPTY
        self.code: str | None = None
        self.request_id: str | None = None


class IntercomClient:
    """Requests to Intercom with auth, rate limiting, retries and typed errors."""

    def __init__(
        self,
        settings: ClientSettings,
        *,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self.limiter = limiter or shared_limiter(
            settings.base_url,
            settings.access_token,
            settings.max_requests_per_minute,
            settings.rate_limit_reserve,
        )
        self._sleep = sleep
        self._headers = settings.headers
        self._json_headers = {**self._headers, "Content-Type": "application/json"}
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()
        self._requests = 0
        self._retries = 0
        self._rate_limited = 0
        self._by_status: Counter[str] = Counter()
        self._latency: float | None = None  # moving average of answered requests (s)
        self._last_date: str | None = None
        self._last_date_local = 0.0

    # -- plumbing ------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            # Our own retries only: urllib3 must not retry behind our back.
            adapter = HTTPAdapter(pool_connections=2, pool_maxsize=4, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.trust_env = False
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _scrub(self, text: str) -> str:
        token = self.settings.access_token
        return text.replace(token, "***") if token and token in text else text

    def _count(self, status: str, *, rate_limited: bool = False) -> None:
        with self._lock:
            self._requests += 1
            self._by_status[status] += 1
            if rate_limited:
                self._rate_limited += 1

    @property
    def stats(self) -> dict[str, Any]:
        """Attempts sent, retries, 429s seen, and attempts by status (or failure kind)."""
        with self._lock:
            return {
                "requests": self._requests,
                "retries": self._retries,
                "rate_limited": self._rate_limited,
                "by_status": dict(self._by_status),
            }

    def _observe_latency(self, seconds: float) -> None:
        with self._lock:
            prev = self._latency
            self._latency = seconds if prev is None else prev + (seconds - prev) * 0.1

    def latency(self) -> float | None:
        """Seconds per answered request, a moving average (None before any answer)."""
        return self._latency

    def concurrency_for_budget(self, *, floor: int, ceiling: int = 32) -> int:
        """Requests in flight that keep the rate budget busy at the measured latency
        (Little's law, with a quarter more for jitter), between ``floor`` and ``ceiling``."""
        latency = self._latency
        if latency is None:
            return floor
        rate = self.limiter.budget_per_window / WINDOW_SECONDS
        return max(floor, min(ceiling, math.ceil(rate * latency * 1.25)))

    def server_time(self) -> float | None:
        """Unix time from the last response's Date header (None before any response)."""
        date = self._last_date
        if not date:
            return None
        try:
            return parsedate_to_datetime(date).timestamp()
        except (TypeError, ValueError):
            return None

    def server_clock_offset(self) -> float | None:
        """Server clock minus local clock, from the last Date header (1 s resolution)."""
        server = self.server_time()
        if server is None:
            return None
        return server - self._last_date_local

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for s in sessions:
            s.close()
        self._local = threading.local()

    def __enter__(self) -> IntercomClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one attempt -----------------------------------------------------------------------
    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        body: bytes | None,
        raw: bool = False,
    ) -> ApiResponse:
        headers = self._json_headers if body is not None else self._headers
        resp_headers: Mapping[str, str] | None = None
        rate_limited = False
        self.limiter.acquire()
        sent_at = time.monotonic()
        try:
            try:
                resp = self._session().request(
                    method,
                    url,
                    params=params,
                    data=body,
                    headers=headers,
                    timeout=self.settings.request_timeout,
                    allow_redirects=False,
                )
                resp_headers = resp.headers
                content = resp.content
            except requests.exceptions.ConnectTimeout as e:
                raise _Failure("connect_timeout", str(e), sent=False) from None
            except requests.exceptions.Timeout as e:
                raise _Failure("timeout", str(e), sent=True) from None
            except requests.exceptions.ConnectionError as e:
                reason = e.args[0] if e.args else None
                refused = isinstance(reason, MaxRetryError) and isinstance(
                    reason.reason, (NewConnectionError, ConnectTimeoutError)
                )
                kind = "connect_failed" if refused else "dropped"
                raise _Failure(kind, str(e), sent=not refused) from None
            except (
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as e:
                raise _Failure("truncated", str(e), sent=True) from None
            status = resp.status_code
            rate_limited = status == 429
            self._observe_latency(time.monotonic() - sent_at)
            if resp_headers.get("Date"):
                self._last_date = resp_headers["Date"]
                self._last_date_local = time.time()
        finally:
            self.limiter.release(resp_headers, rate_limited=rate_limited)

        data: Any = None
        if raw and status < 400:
            # The caller parses. A body cut short already failed above: the length is
            # enforced (Content-Length / chunked framing) by the HTTP stack.
            self._count(str(status))
            return ApiResponse(
                status, None, resp_headers, resp_headers.get("X-Request-Id"), content
            )
        if content:
            try:
                data = orjson.loads(content)
            except orjson.JSONDecodeError:
                if status < 500:
                    raise _Failure(
                        "truncated", "response body is not complete JSON", sent=True
                    ) from None
                data = None
        request_id = resp_headers.get("X-Request-Id") or (
            data.get("request_id") if isinstance(data, dict) else None
        )
        if status < 400:
            self._count(str(status))
            return ApiResponse(status, data, resp_headers, request_id, content)

        code, message = _error_details(data, resp.reason)
        message = self._scrub(message)
        self._count(str(status), rate_limited=rate_limited)
        if status == 429 or status in _RETRY_STATUSES:
            f = _Failure(f"http_{status}", message, sent=status != 429, status=status)
            f.headers, f.code, f.request_id = resp_headers, code, request_id
            raise f
        raise errors.error_class(status)(
            status, code, message, request_id, method=method, path=_path(url), headers=resp_headers
        )

    # -- public ----------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool | None = None,
        raw: bool = False,
    ) -> ApiResponse:
        """Send one request, retrying what is safe to retry; raise an ``errors`` type.

        ``raw``: a success keeps its body unparsed (``content``), for callers that parse it
        themselves (elsewhere, or only in part).
        """
        method = method.upper()
        if not path.startswith("/"):
            path = "/" + path
        if idempotent is None:
            idempotent = method in _IDEMPOTENT_METHODS or (
                method == "POST" and path.rstrip("/").endswith("/search")
            )
        url = self.settings.base_url + path
        body = orjson.dumps(json) if json is not None else None
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                return self._attempt(method, url, params, body, raw)
            except _Failure as f:
                failure = f
            if failure.sent and not idempotent:
                raise errors.AmbiguousWriteError(
                    failure.status,
                    failure.code or failure.kind,
                    f"the outcome of this write is unknown ({self._scrub(failure.detail)}); "
                    f"check whether it was applied before retrying",
                    failure.request_id,
                    method=method,
                    path=path,
                    headers=failure.headers,
                )
            attempt += 1
            elapsed = time.monotonic() - started
            if attempt > self.settings.max_retries or elapsed > self.settings.max_retry_seconds:
                raise self._final_error(failure, method, path, attempt)
            delay = self._backoff(attempt, failure)
            with self._lock:
                self._retries += 1
            log.info(
                "retrying %s %s after %s (attempt %d of %d, waiting %.2fs)",
                method,
                path,
                failure.kind,
                attempt,
                self.settings.max_retries,
                delay,
            )
            if delay > 0:
                self._sleep(delay)

    def _backoff(self, attempt: int, failure: _Failure) -> float:
        """Exponential backoff with jitter. A 429 that spent the window waits in the limiter
        (until X-RateLimit-Reset); one with budget left backs off this request only, briefly."""
        base = self.settings.backoff_base
        if failure.status == 429:
            if not window_spent(failure.headers):
                # Throttled with budget left (FACTS.md §5): the limiter slows the pace for
                # every thread; this request alone waits a short, growing while.
                base = _THROTTLE_BACKOFF
            elif failure.headers.get("X-RateLimit-Reset"):
                # The limiter now holds every thread until X-RateLimit-Reset; add jitter only.
                return random.uniform(0, 0.25)
        step = min(self.settings.backoff_cap, base * 2 ** (attempt - 1))
        return random.uniform(step / 2, step)

    def _final_error(
        self, failure: _Failure, method: str, path: str, attempts: int
    ) -> errors.IntercomError:
        cls: type[errors.IntercomError]
        if failure.status == 429:
            cls = errors.RateLimitError
        elif failure.status is not None:
            cls = errors.ServerError
        else:
            cls = errors.TransportError
        message = f"{self._scrub(failure.detail)} (gave up after {attempts} attempts)"
        return cls(
            failure.status,
            failure.code or failure.kind,
            message,
            failure.request_id,
            method=method,
            path=path,
            headers=failure.headers,
        )

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params=params).data or {}

    def post(
        self, path: str, json: Any, *, idempotent: bool | None = None
    ) -> dict[str, Any] | None:
        return self.request("POST", path, json=json, idempotent=idempotent).data

    def put(self, path: str, json: Any) -> dict[str, Any]:
        return self.request("PUT", path, json=json).data or {}

    def delete(self, path: str) -> dict[str, Any] | None:
        return self.request("DELETE", path).data

    def iter_pages(
        self,
        path: str,
        *,
        list_key: str,
        params: Mapping[str, Any] | None = None,
        per_page: int = 150,
    ) -> Iterator[list[dict[str, Any]]]:
        """Walk a GET list endpoint's cursor pages (``pages.next.starting_after``)."""
        query = {**(params or {}), "per_page": per_page}

        def page(cursor: str | None) -> dict[str, Any]:
            return self.get(path, {**query, "starting_after": cursor} if cursor else query)

        return walk_cursor(page, list_key=list_key, method="GET", path=path)

    def search(
        self,
        path: str,
        query: dict[str, Any],
        *,
        sort: Mapping[str, str] | None = None,
        per_page: int = 150,
        starting_after: str | None = None,
    ) -> dict[str, Any]:
        """One search page, the whole body (``total_count``, ``pages``...); cursor in the BODY."""
        body = _search_body(query, sort, per_page, starting_after)
        return self.request("POST", path, json=body, idempotent=True).data or {}

    def search_raw(
        self,
        path: str,
        query: dict[str, Any],
        *,
        sort: Mapping[str, str] | None = None,
        per_page: int = 150,
        starting_after: str | None = None,
    ) -> bytes:
        """``search``, with the page's body returned unparsed (the caller decodes it)."""
        body = _search_body(query, sort, per_page, starting_after)
        return self.request("POST", path, json=body, idempotent=True, raw=True).content

    def iter_search(
        self,
        path: str,
        query: dict[str, Any],
        *,
        sort: Mapping[str, str] | None = None,
        per_page: int = 150,
        list_key: str = "data",
        starting_after: str | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Walk a search endpoint: ``per_page`` on every page, cursor in the BODY (FACTS §2.6)."""

        def page(cursor: str | None) -> dict[str, Any]:
            return self.search(path, query, sort=sort, per_page=per_page, starting_after=cursor)

        return walk_cursor(page, list_key=list_key, method="POST", path=path, start=starting_after)


def _search_body(
    query: dict[str, Any],
    sort: Mapping[str, str] | None,
    per_page: int,
    starting_after: str | None,
) -> dict[str, Any]:
    """A search body: ``per_page`` on every page, the cursor in the body (FACTS.md §2.6)."""
    validate_query(query)
    pagination: dict[str, Any] = {"per_page": per_page}
    if starting_after:
        pagination["starting_after"] = starting_after
    body: dict[str, Any] = {"query": query, "pagination": pagination}
    if sort:
        body["sort"] = dict(sort)
    return body


def _error_details(data: Any, reason: str | None) -> tuple[str | None, str]:
    """Intercom's error envelope (FACTS.md §6) → (first code, joined messages)."""
    if isinstance(data, dict):
        errs = data.get("errors")
        if isinstance(errs, list) and errs:
            first = errs[0] if isinstance(errs[0], dict) else {}
            messages = [
                str(e.get("message") or e.get("code") or "") for e in errs if isinstance(e, dict)
            ]
            return first.get("code"), "; ".join(m for m in messages if m) or (reason or "")
        if data.get("message"):
            return data.get("code"), str(data["message"])
    return None, reason or "no error details"


def _path(url: str) -> str:
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"
