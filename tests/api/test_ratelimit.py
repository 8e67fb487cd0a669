"""The shared rate limiter, on a fake clock: our budget, the server's headers, 429s, threads."""

from __future__ import annotations

import threading
from collections import Counter

from intercom_api.ratelimit import RateLimiter, shared_limiter


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = start
        self.slept = 0.0

    def time(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s
        self.slept += s


def limiter(rpm: int, clock: FakeClock) -> RateLimiter:
    return RateLimiter(rpm, time_fn=clock.time, sleep_fn=clock.sleep, jitter=0.0)


def headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(int(reset)),
    }


def test_own_budget_in_ten_second_windows() -> None:
    clock = FakeClock()
    rl = limiter(60, clock)  # 10 per 10-second window
    windows: Counter[int] = Counter()
    for _ in range(25):
        rl.acquire()
        windows[int(clock.t // 10)] += 1
        rl.release(None)
    assert max(windows.values()) == 10
    assert len(windows) == 3
    assert 10 <= clock.slept <= 20  # waited for two window boundaries, no more


def test_server_remaining_is_respected() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)  # our budget (1000/window) is far above the server's
    rl.acquire()
    end = (clock.t // 10 + 1) * 10
    rl.release(headers(5, 2, end))
    rl.acquire()
    rl.acquire()
    assert clock.slept == 0
    rl.acquire()  # the window is spent: waits for the reset
    assert clock.t >= end
    assert rl.waits == 1


def test_server_limit_caps_a_fresh_window_before_any_answer() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)
    rl.acquire()
    rl.release(headers(3, 2, (clock.t // 10 + 1) * 10))
    clock.t += 10  # next window: no answer yet, but the server's limit is known
    start = clock.t
    for _ in range(3):
        rl.acquire()
    assert clock.t == start
    rl.acquire()
    assert clock.t > start


def test_in_flight_requests_count_against_remaining() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)
    for _ in range(3):
        rl.acquire()
    end = (clock.t // 10 + 1) * 10
    # The first answer says 5 remain, but two more requests are still in flight.
    rl.release(headers(100, 5, end))
    for _ in range(3):
        rl.acquire()
    assert clock.slept == 0
    rl.acquire()
    assert clock.t >= end


def test_429_empties_the_window() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)
    rl.acquire()
    end = (clock.t // 10 + 1) * 10
    rl.release(headers(100, 50, end), rate_limited=True)
    rl.acquire()
    assert clock.t >= end


def test_skewed_reset_is_ignored_for_timing() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)
    rl.acquire()
    rl.release(headers(100, 0, clock.t + 3600))  # an hour away: a skewed clock
    rl.acquire()  # waits for our own window only
    assert clock.slept <= 10


def test_threads_share_one_budget() -> None:
    clock = FakeClock()
    lock = threading.Lock()

    def sleep(s: float) -> None:
        with lock:
            clock.t = max(clock.t, clock.t + s)

    rl = RateLimiter(60, time_fn=clock.time, sleep_fn=sleep, jitter=0.0)
    stamps: list[float] = []

    def work() -> None:
        for _ in range(5):
            rl.acquire()
            with lock:
                stamps.append(clock.t)
            rl.release(None)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    per_window = Counter(int(s // 10) for s in stamps)
    assert len(stamps) == 20
    assert max(per_window.values()) <= 10


def test_shared_limiter_is_per_app() -> None:
    a = shared_limiter("http://127.0.0.1:1", "token-a", 600)
    assert shared_limiter("http://127.0.0.1:1", "token-a", 600) is a
    assert shared_limiter("http://127.0.0.1:1", "token-b", 600) is not a
    assert shared_limiter("http://127.0.0.1:2", "token-a", 600) is not a
