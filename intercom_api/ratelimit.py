"""A rate limiter shared by every thread and client of one Intercom app in this process.

Intercom enforces its per-minute limit in 10-second windows and reports the window in
X-RateLimit-Limit / -Remaining / -Reset (FACTS.md §5). The limiter spends, per window, the
smaller of our own budget and what the server says is left,
counting requests still in flight so concurrent threads do not overshoot. Our budget is the
limit the server announces (X-RateLimit-Limit) less a reserve left to the app's other
integrations, under an optional cap (max_requests_per_minute).

A 429 comes in two kinds (FACTS.md §5), told apart by X-RateLimit-Remaining:
- the window is spent (Remaining 0, or absent): every caller waits until the server's
  X-RateLimit-Reset, even where that is later than our own window end;
- throttled with budget left (Remaining > 0: a workspace-wide limit, a burst, an overloaded
  server): nobody waits for the window. The client backs off that one request, and the
  limiter paces all requests AIMD-style: each such 429 cuts the pace to 70% of the rate
  actually sent (at most once per round of requests in flight, never below 5% of our full
  rate), each answered request adds back 5% of the full rate, and at the full rate pacing
  stops.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

WINDOW_SECONDS = 10.0
# Intercom's default limit for an app, 10,000/min (FACTS.md §5), per 10-second window: the
# budget until the server announces the app's own in X-RateLimit-Limit.
DEFAULT_APP_LIMIT_PER_WINDOW = 1666
# Reset stamps further than this from our clock are treated as skewed and ignored for timing.
_MAX_SKEW = 60.0
# AIMD pacing after a 429 with budget left: the pace is multiplied by _CUT (never below
# _FLOOR_SHARE of the full rate), and each answered request adds 1/_RECOVERY of the full rate.
_CUT = 0.7
_FLOOR_SHARE = 0.05
_RECOVERY = 20
_RATE_SPAN = 1.0  # seconds of recent grants that measure the rate we really send


def window_spent(headers: Mapping[str, str] | None) -> bool:
    """Whether a 429 says the window is spent (Remaining 0, absent or unreadable) rather than
    "throttled with budget left" (Remaining > 0), FACTS.md §5."""
    remaining = headers.get("X-RateLimit-Remaining") if headers else None
    if remaining is None:
        return True
    try:
        return int(remaining) <= 0
    except ValueError:
        return True


class RateLimiter:
    """Token accounting per 10-second window, fed by our budget and the server's headers,
    plus a pace that 429s with budget left lower and answered requests raise again."""

    def __init__(
        self,
        max_requests_per_minute: int | None = None,
        *,
        reserve: float = 0.0,
        time_fn: Callable[[], float] = time.time,
        sleep_fn: Callable[[float], None] = time.sleep,
        jitter: float = 0.05,
    ) -> None:
        self._lock = threading.Lock()
        self._time = time_fn
        self._sleep = sleep_fn
        self._jitter = jitter
        self._cap = _per_window(max_requests_per_minute)  # our own cap, None: the server's
        self._reserve = reserve  # share of the app's limit left to other integrations
        self._server_limit: int | None = None  # X-RateLimit-Limit (per window)
        self.budget_per_window = self._budget()
        self._window_end = 0.0
        self._hold_until = 0.0  # a spent window's X-RateLimit-Reset: nobody sends before it
        self._sent = 0  # acquired in the current window
        self._server_remaining: int | None = None  # left in the current window, net of in-flight
        self.in_flight = 0
        # Pacing (None: not paced, the windows alone limit us).
        self._rate: float | None = None
        self._next_slot = 0.0
        self._recent: deque[float] = deque()  # grant times within the last _RATE_SPAN
        self._granted = 0  # requests granted so far: a grant's sequence number
        self._cut_at = 0  # _granted when the pace was last cut
        self._local = threading.local()
        # Counters for logs and benchmarks.
        self.window_waits = 0  # a caller slept for a spent window (ours or the server's)
        self.pace_waits = 0  # a caller slept for its paced slot
        self.window_limited = 0  # 429s that said the window is spent
        self.throttles_with_budget = 0  # 429s with budget left
        self.min_effective_rate: float | None = None  # the lowest pace set so far (req/s)

    @property
    def waits(self) -> int:
        """How many times a caller had to sleep for a window (older name of window_waits)."""
        return self.window_waits

    def _budget(self) -> int:
        """Per window: the app's limit as the server announces it (X-RateLimit-Limit; until
        then Intercom's default, FACTS.md §5) less the reserve, never above our cap."""
        limit = self._server_limit or DEFAULT_APP_LIMIT_PER_WINDOW
        own = max(1, math.floor(limit * (1.0 - self._reserve)))
        return own if self._cap is None else min(own, self._cap)

    def set_budget(self, max_requests_per_minute: int | None, reserve: float | None = None) -> None:
        """Change our cap and reserve (the latest client created for the app sets them)."""
        with self._lock:
            self._cap = _per_window(max_requests_per_minute)
            if reserve is not None:
                self._reserve = reserve
            self.budget_per_window = self._budget()
            if self._rate is not None and self._rate >= self._full_rate():
                self._rate = None

    def _full_rate(self) -> float:
        return self.budget_per_window / WINDOW_SECONDS

    def _floor_rate(self) -> float:
        full = self._full_rate()
        return max(full * _FLOOR_SHARE, min(full, 0.5))

    @property
    def effective_rate(self) -> float:
        """Requests per second we allow ourselves now: the pace, or the full budget's rate."""
        with self._lock:
            return self._rate if self._rate is not None else self._full_rate()

    @property
    def paced(self) -> bool:
        with self._lock:
            return self._rate is not None

    def counters(self) -> dict[str, Any]:
        """What a log line or a benchmark prints about this limiter."""
        with self._lock:
            return {
                "throttles_with_budget": self.throttles_with_budget,
                "window_limited": self.window_limited,
                "window_waits": self.window_waits,
                "pace_waits": self.pace_waits,
                "effective_rate": self._rate if self._rate is not None else self._full_rate(),
                "full_rate": self._full_rate(),
                "min_effective_rate": self.min_effective_rate,
            }

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
                jitter = True
                if now < self._hold_until:
                    wait = self._hold_until - now
                    self.window_waits += 1
                elif self._allowance() <= 0:
                    wait = self._window_end - now
                    self.window_waits += 1
                elif self._rate is not None and now < self._next_slot:
                    wait = self._next_slot - now
                    self.pace_waits += 1
                    jitter = False
                else:
                    self._grant(now)
                    return
            self._sleep(max(0.0, wait) + (random.uniform(0, self._jitter) if jitter else 0.0))

    def _grant(self, now: float) -> None:
        self._sent += 1
        if self._server_remaining is not None:
            self._server_remaining -= 1
        self.in_flight += 1
        self._recent.append(now)
        while self._recent and self._recent[0] < now - _RATE_SPAN:
            self._recent.popleft()
        if self._rate is not None:
            interval = 1.0 / self._rate
            # One slot of catch-up at most (a sleeper woken late), never a burst.
            self._next_slot = max(self._next_slot, now - interval) + interval
        self._granted += 1
        self._local.seq = self._granted

    def _cut_pace(self, now: float) -> None:
        """A 429 with budget left: cut the pace (from what we really send), once per round."""
        seq = getattr(self._local, "seq", None)
        if seq is not None and seq <= self._cut_at:
            return  # sent before the last cut: the same burst, already answered
        if self._rate is None:
            self._next_slot = max(self._next_slot, now)  # pacing starts now, no stale credit
        full = self._full_rate()
        base = self._rate if self._rate is not None else full
        while self._recent and self._recent[0] < now - _RATE_SPAN:
            self._recent.popleft()
        if self._recent:
            # Grants over the time they span (a burst counts as the full rate).
            base = min(base, len(self._recent) / max(now - self._recent[0], 1.0 / full))
        self._rate = max(self._floor_rate(), base * _CUT)
        self._cut_at = self._granted
        if self.min_effective_rate is None or self._rate < self.min_effective_rate:
            self.min_effective_rate = self._rate

    def _recover(self) -> None:
        if self._rate is None:
            return
        full = self._full_rate()
        self._rate += full / _RECOVERY
        if self._rate >= full:
            self._rate = None

    def release(self, headers: Mapping[str, str] | None, *, rate_limited: bool = False) -> None:
        """Account for an answered (or failed) request; learn from its rate-limit headers."""
        with self._lock:
            self.in_flight = max(0, self.in_flight - 1)
            if not headers:
                self._local.seq = None
                return
            spent = rate_limited and window_spent(headers)
            if rate_limited and not spent:
                self.throttles_with_budget += 1
                self._cut_pace(self._time())
            elif not rate_limited:
                self._recover()
            self._local.seq = None
            try:
                limit = headers.get("X-RateLimit-Limit")
                remaining = headers.get("X-RateLimit-Remaining")
                reset = headers.get("X-RateLimit-Reset")
                limit_i = int(limit) if limit is not None else None
                remaining_i = int(remaining) if remaining is not None else None
                reset_f = float(reset) if reset is not None else None
            except ValueError:
                limit_i = remaining_i = None
                reset_f = None
                if not spent:
                    return
            if limit_i is not None and limit_i > 0 and limit_i != self._server_limit:
                self._server_limit = limit_i
                self.budget_per_window = self._budget()
                if self._rate is not None and self._rate >= self._full_rate():
                    self._rate = None  # the new budget is below the pace: it is the limit
            now = self._time()
            self._roll(now)
            reset_ok = reset_f is not None and abs(reset_f - now) <= _MAX_SKEW
            if spent:
                self._hold_for_reset(now, reset_f if reset_ok else None)
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

    def _hold_for_reset(self, now: float, reset: float | None) -> None:
        """The window is spent: nobody sends before the server's X-RateLimit-Reset, FACTS.md §5
        (with no usable stamp, for a second)."""
        self.window_limited += 1
        if reset is None or reset <= now:
            target = now + 1.0
        else:
            target = reset
            if target <= self._window_end + 0.5:
                self._window_end = target  # the server's end of this window
            # Else a Reset beyond our window end: the server's word wins; our phase stays.
        self._hold_until = max(self._hold_until, target)
        self._server_remaining = 0

    def seconds_until_reset(self) -> float:
        with self._lock:
            now = self._time()
            if now < self._hold_until:
                return self._hold_until - now
            return max(0.0, self._window_end - now)


_registry: dict[tuple[str, str], RateLimiter] = {}
_registry_lock = threading.Lock()


def shared_limiter(
    base_url: str,
    access_token: str,
    max_requests_per_minute: int | None,
    reserve: float = 0.0,
) -> RateLimiter:
    """The one limiter of this process for an app (base URL + token), created on first use."""
    key = (base_url, hashlib.sha256(access_token.encode()).hexdigest())
    with _registry_lock:
        limiter = _registry.get(key)
        if limiter is None:
            limiter = _registry[key] = RateLimiter(max_requests_per_minute, reserve=reserve)
        else:
            limiter.set_budget(max_requests_per_minute, reserve)
        return limiter


def _per_window(max_requests_per_minute: int | None) -> int | None:
    if not max_requests_per_minute:
        return None
    return max(1, math.floor(max_requests_per_minute * WINDOW_SECONDS / 60))
