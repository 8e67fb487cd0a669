"""Fault injection: error statuses, extra 429s, dropped connections, truncated bodies, latency.

Where a fault strikes matters for the client's idempotency, so it is part of the model:
- ``500``, ``503`` and ``429`` reject the request *before* it is processed (nothing written);
- ``502``, ``drop`` and ``truncate`` strike *after* it was processed: a write took effect
  but its answer is lost, which is what a retrying client must not duplicate.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

BEFORE_KINDS = ("500", "503", "429")
AFTER_KINDS = ("502", "drop", "truncate")
KINDS = BEFORE_KINDS + AFTER_KINDS


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

    def __init__(self, random_seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(random_seed ^ 0x5EED)
        self.config = FaultConfig()
        self.injected: dict[str, int] = dict.fromkeys(KINDS, 0)

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
                    for kind in KINDS:
                        self._set_rate(cfg, kind, total / len(KINDS))
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
