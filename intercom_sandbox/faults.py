"""Fault injection: error statuses, extra 429s, dropped connections, truncated bodies, latency.

Where a fault strikes matters for the client's idempotency, so it is part of the model:
- ``500``, ``503``, ``echo_token``, ``429`` and ``late_reset`` reject the request *before* it
  is processed (nothing written);
- ``502``, ``drop`` and ``truncate`` strike *after* it was processed: a write took effect
  but its answer is lost, which is what a retrying client must not duplicate.

The two kinds of 429 Intercom sends (FACTS.md §5):
- ``429`` is "throttled with budget left" (a workspace-wide limit, a burst, an overloaded
  server): the request was counted by the window limiter and *allowed*, and its rate headers
  are that hit's, so X-RateLimit-Remaining still shows budget (0 only when the hit took the
  window's last call);
- ``late_reset`` is "window spent, come back later than you think": 429 with Remaining 0 and
  an X-RateLimit-Reset 5-10 s (half to a whole window, seeded) after the window's own end.
  Until that time every request is refused the same way, so a client that waits only for
  the end of its own window is refused again.

``echo_token`` is a retryable 500 whose error message quotes the caller's Authorization
header verbatim (some APIs echo it): a client must never log or raise it unscrubbed.

``fault_rate`` (the CLI's --fault-rate) spreads one rate over the kinds of ``SPREAD_KINDS``
only: a late reset stalls a whole app for a window, which a blanket rate should not do.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from intercom_sandbox import ratelimit

BEFORE_KINDS = ("500", "503", "429", "late_reset", "echo_token")
AFTER_KINDS = ("502", "drop", "truncate")
KINDS = BEFORE_KINDS + AFTER_KINDS
# What ``fault_rate`` spreads one total rate over.
SPREAD_KINDS = ("500", "503", "429", "502", "drop", "truncate")


@dataclass
class FaultConfig:
    rates: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    # None: every Intercom operation; else only these operationIds.
    operations: list[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rates": dict(self.rates),
            "latency_ms": self.latency_ms,
            "jitter_ms": self.jitter_ms,
            "operations": self.operations,
        }


class Faults:
    """Draws, per request, at most one fault from the configured rates (seeded)."""

    def __init__(self, random_seed: int = 0, *, time_fn: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(random_seed ^ 0x5EED)
        # Real time, as the window limiter's (intercom_sandbox.ratelimit): Reset stamps are
        # compared with the client's own clock.
        self._time = time_fn
        self.config = FaultConfig()
        self.injected: dict[str, int] = dict.fromkeys(KINDS, 0)
        self._late_reset: int | None = None  # a late_reset's X-RateLimit-Reset, while pending

    def configure(self, data: dict[str, Any]) -> FaultConfig:
        """Update from a control-API / CLI dict; unknown keys are an error."""
        with self._lock:
            cfg = self.config
            for key, value in data.items():
                if key == "rates":
                    for kind, rate in dict(value).items():
                        self._set_rate(cfg, kind, rate)
                elif key == "fault_rate":  # spread one total rate evenly over every kind
                    total = float(value)
                    for kind in SPREAD_KINDS:
                        self._set_rate(cfg, kind, total / len(SPREAD_KINDS))
                elif key in KINDS:
                    self._set_rate(cfg, key, value)
                elif key in ("latency_ms", "jitter_ms"):
                    if float(value) < 0:
                        raise ValueError(f"{key} must be >= 0")
                    setattr(cfg, key, float(value))
                elif key == "operations":
                    cfg.operations = None if value is None else [str(v) for v in value]
                else:
                    raise ValueError(f"unknown fault setting {key!r}")
            if sum(cfg.rates.values()) > 1.0:
                raise ValueError("fault rates add up to more than 1")
            return cfg

    @staticmethod
    def _set_rate(cfg: FaultConfig, kind: str, rate: Any) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"fault rate for {kind} must be between 0 and 1")
        cfg.rates[kind] = rate

    def clear(self) -> None:
        with self._lock:
            self.config = FaultConfig()
            self._late_reset = None

    def late_reset(self, fault: str | None) -> int | None:
        """The X-RateLimit-Reset of a pending late reset, or None to serve normally.

        ``fault`` is this request's draw: ``late_reset`` starts a refusal that lasts until
        5-10 s (half to a whole window) after the end of the current rate window."""
        window = ratelimit.WINDOW_SECONDS  # read at call time: tests shorten the windows
        with self._lock:
            now = self._time()
            if self._late_reset is not None and now >= self._late_reset:
                self._late_reset = None
            if self._late_reset is None and fault == "late_reset":
                window_end = int((now // window + 1) * window)
                late = max(1, math.ceil(self._rng.uniform(0.5, 1.0) * window))
                self._late_reset = window_end + late
            return self._late_reset

    def draw(self, operation_id: str) -> tuple[str | None, float]:
        """Return (fault kind or None, added latency in seconds) for one request."""
        with self._lock:
            cfg = self.config
            if cfg.operations is not None and operation_id not in cfg.operations:
                return None, 0.0
            delay = 0.0
            if cfg.latency_ms or cfg.jitter_ms:
                delay = (cfg.latency_ms + self._rng.uniform(0, cfg.jitter_ms)) / 1000.0
            roll = self._rng.random()
            acc = 0.0
            for kind in KINDS:
                acc += cfg.rates[kind]
                if roll < acc:
                    self.injected[kind] += 1
                    return kind, delay
            return None, delay
