"""The sandbox's injectable clock: it stamps created_at / updated_at and drives search lag."""

from __future__ import annotations

import threading
import time


class Clock:
    """Wall time plus an offset that tests can set or advance; ``frozen`` stops it."""

    def __init__(self, start: float | None = None, *, frozen: bool = False) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0 if start is None else start - time.time()
        self._frozen_at: float | None = (
            (start if start is not None else time.time()) if frozen else None
        )

    def now(self) -> float:
        """Current sandbox time, unix seconds (float)."""
        with self._lock:
            if self._frozen_at is not None:
                return self._frozen_at
            return time.time() + self._offset

    def now_int(self) -> int:
        """Current sandbox time as Intercom stamps it: integer unix seconds."""
        return int(self.now())

    def set(self, ts: float, *, frozen: bool | None = None) -> None:
        """Jump to ``ts``; ``frozen`` True stops the clock there, False lets it run."""
        with self._lock:
            keep_frozen = self._frozen_at is not None if frozen is None else frozen
            if keep_frozen:
                self._frozen_at = float(ts)
            else:
                self._frozen_at = None
                self._offset = float(ts) - time.time()

    def advance(self, seconds: float) -> None:
        """Move the clock forward (or back, with a negative value)."""
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None
