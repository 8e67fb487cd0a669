"""RequestPool: the one pool of request threads a run shares.

Every request a run makes side by side runs here, whichever stream asks, so one setting
bounds them all: at least ``floor`` requests in flight, more only while the measured latency
needs more to keep the rate budget busy (Little's law: ``IntercomClient.concurrency_for_budget``),
never more than ``ceiling``. Threads start as work arrives and stay until ``shutdown``.

The rule that keeps it deadlock-free: a task is a *leaf*. It makes requests and returns; it
never waits on another task of the pool. Code that waits on several tasks (a search reader,
an ordered map, a stream) does so on its own thread, never on a pool thread.

``stop`` drops the work not yet started (its futures raise ``PoolStopped``, as does anything
submitted later), so threads waiting on the pool end quickly when a run stops.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

R = TypeVar("R")


class PoolStopped(BaseException):
    """The run is stopping: this work was dropped before it started.

    A BaseException (like KeyboardInterrupt), so that no ``except Exception`` on the way
    takes a stop for a failed request.
    """


class RequestPool(Executor):
    """A thread pool whose width follows ``width()`` (read at each submit), capped at
    ``ceiling``. Tasks must be leaves (see the module docstring)."""

    def __init__(self, width: Callable[[], int], *, ceiling: int, name: str = "intercom") -> None:
        self._width = width
        self.ceiling = max(1, ceiling)
        self._name = name
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)
        self._queue: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
        self._queue = deque()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._running = 0
        self._closed = False
        self._stopped = False
        self.peak_threads = 0

    def width(self) -> int:
        """Requests to keep in flight now (at least 1, at most the ceiling)."""
        return max(1, min(self.ceiling, self._width()))

    @property
    def threads(self) -> int:
        return len(self._threads)

    def spare(self) -> int:
        """Requests that could start now without waiting behind others (width - busy)."""
        width = self.width()
        with self._lock:
            return max(0, width - self._running - len(self._queue))

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        future: Future[R] = Future()
        width = self.width()  # outside the lock: it may read the client's figures
        with self._lock:
            if self._stopped or self._closed:
                future.set_running_or_notify_cancel()
                future.set_exception(PoolStopped())
                return future
            self._queue.append((future, fn, args, kwargs))
            if len(self._queue) > self._idle and len(self._threads) < width:
                thread = threading.Thread(
                    target=self._serve,
                    name=f"{self._name}-{len(self._threads) + 1}",
                    daemon=True,  # a stopped run exits without waiting for a slow request
                )
                self._threads.append(thread)
                self.peak_threads = max(self.peak_threads, len(self._threads))
                thread.start()
            else:
                self._work.notify()
        return future

    def _serve(self) -> None:
        while True:
            with self._lock:
                self._idle += 1
                while not self._queue and not self._closed:
                    self._work.wait()
                self._idle -= 1
                if not self._queue:
                    return  # closed and drained
                future, fn, args, kwargs = self._queue.popleft()
                self._running += 1
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = fn(*args, **kwargs)
                    except BaseException as e:  # handed to whoever waits on the future
                        future.set_exception(e)
                    else:
                        future.set_result(result)
            finally:
                with self._lock:
                    self._running -= 1
            del future, fn, args, kwargs

    def stop(self) -> None:
        """Drop the work not yet started: its futures, and later submits, raise PoolStopped."""
        with self._lock:
            self._stopped = True
            dropped = list(self._queue)
            self._queue.clear()
        for future, *_ in dropped:
            if future.set_running_or_notify_cancel():
                future.set_exception(PoolStopped())

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if cancel_futures:
            self.stop()
        with self._lock:
            self._closed = True
            self._work.notify_all()
            threads = list(self._threads)
        if wait:
            for thread in threads:
                if thread is not threading.current_thread():
                    thread.join()
