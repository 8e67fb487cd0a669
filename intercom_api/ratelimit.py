"""A rate limiter shared by every thread and client of one Intercom app in this process.

Intercom enforces its per-minute limit in 10-second windows and reports the window in
X-RateLimit-Limit / -Remaining / -Reset (FACTS.md §5). The limiter spends, per window, the
smaller of our own budget (max_requests_per_minute / 6) and what the server says is left,
counting requests still in flight so concurrent threads do not overshoot. When the window is
spent, callers sleep until it resets; a 429 empties the window the same way.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections.abc import Callable, Mapping

WINDOW_SECONDS = 10.0
# Reset stamps further than this from our clock are treated as skewed and ignored for timing.
_MAX_SKEW = 60.0


class RateLimiter:
    """Token accounting per 10-second window, fed by our budget and the server's headers."""

    def __init__(
        self,
        max_requests_per_minute: int,
        *,
        time_fn: Callable[[], float] = time.time,
        sleep_fn: Callable[[float], None] = time.sleep,
        jitter: float = 0.05,
    ) -> None:
        self._lock = threading.Lock()
        self._time = time_fn
        self._sleep = sleep_fn
        self._jitter = jitter
        self.budget_per_window = max(1, math.floor(max_requests_per_minute * WINDOW_SECONDS / 60))
        self._window_end = 0.0
        self._sent = 0  # acquired in the current window
        self._server_limit: int | None = None  # X-RateLimit-Limit (per window)
        self._server_remaining: int | None = None  # left in the current window, net of in-flight
        self.in_flight = 0
        self.waits = 0  # how many times a caller had to sleep for a window

    def set_budget(self, max_requests_per_minute: int) -> None:
        """Change our own budget (the latest client created for the app sets it)."""
        per_window = max(1, math.floor(max_requests_per_minute * WINDOW_SECONDS / 60))
        with self._lock:
            self.budget_per_window = per_window

    def _roll(self, now: float) -> None:
        if now < self._window_end:
            return
        if self._window_end and now - self._window_end < WINDOW_SECONDS * 100:
            # Keep the server's phase: next boundary after now, stepping from the last one.
            steps = math.floor((now - self._window_end) / WINDOW_SECONDS) + 1
            self._window_end += steps * WINDOW_SECONDS
        else:
            self._window_end = math.floor(now / WINDOW_SECONDS) * WINDOW_SECONDS + WINDOW_SECONDS
        self._sent = 0
        self._server_remaining = None

    def _allowance(self) -> int:
        mine = self.budget_per_window - self._sent
        if self._server_remaining is not None:
            return min(mine, self._server_remaining)
        if self._server_limit is not None:
            return min(mine, self._server_limit - self._sent)
        return mine

    def acquire(self) -> None:
        """Block until a request may be sent, then count it."""
        while True:
            with self._lock:
                now = self._time()
                self._roll(now)
                if self._allowance() > 0:
                    self._sent += 1
                    if self._server_remaining is not None:
                        self._server_remaining -= 1
                    self.in_flight += 1
                    return
                wait = self._window_end - now
                self.waits += 1
            self._sleep(max(0.0, wait) + random.uniform(0, self._jitter))

    def release(self, headers: Mapping[str, str] | None, *, rate_limited: bool = False) -> None:
        """Account for an answered (or failed) request; learn from its rate-limit headers."""
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)
            if not headers:
                return
            try:
                limit = headers.get("X-RateLimit-Limit")
                remaining = headers.get("X-RateLimit-Remaining")
                reset = headers.get("X-RateLimit-Reset")
                limit_i = int(limit) if limit is not None else None
                remaining_i = int(remaining) if remaining is not None else None
                reset_f = float(reset) if reset is not None else None
            except ValueError:
                return
            if limit_i is not None and limit_i > 0:
                self._server_limit = limit_i
            now = self._time()
            self._roll(now)
            reset_ok = reset_f is not None and abs(reset_f - now) <= _MAX_SKEW
            if rate_limited:
                # Hold every caller until the server's window resets (FACTS.md §5); with no
                # usable reset stamp, for a second.
                target = now + 1.0
                if reset_ok and reset_f is not None and reset_f > now:
                    target = reset_f
                if target > self._window_end:
                    self._window_end = target
                self._server_remaining = 0
                return
            if reset_ok:
                assert reset_f is not None
                if reset_f > self._window_end + 0.5:
                    # The server is already in a later window than we are: adopt its phase.
                    self._window_end = reset_f
                    self._sent = 0
                    self._server_remaining = None
                elif reset_f < self._window_end - 0.5:
                    return  # a late answer from a window that is over
                else:
                    self._window_end = reset_f
            if remaining_i is not None:
                # Other requests in flight may not be counted by the server yet: assume they are
                # about to be (slight under-use rather than 429s).
                net = remaining_i - self.in_flight
                if self._server_remaining is None or net < self._server_remaining:
                    self._server_remaining = net

    def seconds_until_reset(self) -> float:
        with self._lock:
            return max(0.0, self._window_end - self._time())


_registry: dict[tuple[str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(base_url: str, access_token: str, max_requests_per_minute: int) -> RateLimiter:
    """The one limiter of this process for an app (base URL + token), created on first use."""
    key = (base_url, hashlib.sha256(access_token.encode()).hexdigest())
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RateLimiter(max_requests_per_minute)
        else:
            limiter.set_budget(max_requests_per_minute)
        return limiter
