"""Intercom's rate limit: a per-minute budget enforced in 10-second windows (FACTS.md §5)."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 10


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset: int  # unix seconds at which the current window ends

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


class WindowRateLimiter:
    """Counts calls per aligned 10-second window of real time.

    Real (not sandbox) time: a test that freezes or jumps the sandbox clock must not
    freeze the windows, and clients compute their wait from X-RateLimit-Reset against
    their own clock. 1,000/min gives 166 per window, as FACTS.md §5 says.
    """

    def __init__(self, per_minute: int, *, time_fn: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._time = time_fn
        self._window_start = 0
        self._used = 0
        self.per_minute = per_minute

    @property
    def per_minute(self) -> int:
        return self._per_minute

    @per_minute.setter
    def per_minute(self, value: int) -> None:
        if value < 6:
            raise ValueError("rate limit per minute must be at least 6")
        self._per_minute = int(value)
        self.per_window = max(1, math.floor(self._per_minute * WINDOW_SECONDS / 60))

    def hit(self) -> RateDecision:
        now = self._time()
        start = int(now // WINDOW_SECONDS) * WINDOW_SECONDS
        with self._lock:
            if start != self._window_start:
                self._window_start = start
                self._used = 0
            reset = start + WINDOW_SECONDS
            if self._used >= self.per_window:
                return RateDecision(False, self.per_window, 0, reset)
            self._used += 1
            return RateDecision(True, self.per_window, self.per_window - self._used, reset)
