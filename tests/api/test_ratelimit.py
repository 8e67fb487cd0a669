"""The shared rate limiter, on a fake clock: our budget, the server's headers, 429s, threads."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_429_with_the_window_spent_empties_the_window() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)
    rl.acquire()
    end = (clock.t // 10 + 1) * 10
    rl.release(headers(100, 0, end), rate_limited=True)
    rl.acquire()
    assert clock.t >= end
    assert rl.window_limited == 1 and rl.throttles_with_budget == 0


def test_429_without_a_remaining_header_counts_as_window_spent() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)
    rl.acquire()
    end = (clock.t // 10 + 1) * 10
    rl.release({"X-RateLimit-Reset": str(int(end))}, rate_limited=True)
    rl.acquire()
    assert clock.t >= end


def test_429_spent_with_a_reset_after_our_window_end_waits_for_the_server() -> None:
    """The server's X-RateLimit-Reset wins over our own window end when it is later."""
    clock = FakeClock(1_000_003.0)
    rl = limiter(6000, clock)
    rl.acquire()
    end = (clock.t // 10 + 1) * 10
    rl.release(headers(100, 40, end))  # our window (the server's phase) ends at `end`
    assert rl.seconds_until_reset() == end - clock.t
    late = end + 7
    rl.acquire()
    rl.release(headers(100, 0, late), rate_limited=True)
    assert rl.seconds_until_reset() == late - clock.t
    rl.acquire()
    assert clock.t >= late  # not merely our own window end
    assert clock.t < late + 1
    # Afterwards the windows keep the server's phase (ending on multiples of 10).
    rl.release(headers(100, 90, end + 10))
    for _ in range(90):
        rl.acquire()
        rl.release(None)
    assert clock.t < end + 10
    rl.acquire()  # our 100 per window are spent: wait for the server's next window
    assert end + 10 <= clock.t < late + 10


def test_429_with_budget_left_slows_the_pace_without_holding_the_window() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)  # 1,000 per window: 100 requests/s at full rate
    end = (clock.t // 10 + 1) * 10
    for _ in range(5):
        rl.acquire()
        rl.release(headers(1000, 900, end))
    assert not rl.paced and rl.effective_rate == 100
    rl.acquire()
    rl.release(headers(1000, 890, end), rate_limited=True)
    assert rl.throttles_with_budget == 1 and rl.window_limited == 0
    assert rl.paced and rl.effective_rate == pytest.approx(70)  # cut to 70%
    start = clock.t
    for _ in range(11):  # other callers go on, paced at 70/s: no wait for the window
        rl.acquire()
    assert clock.t - start == pytest.approx(10 / 70)
    assert clock.t < end - 9 and rl.window_waits == 0 and rl.pace_waits > 0
    for _ in range(11):
        rl.release(None)
    # Every answered request gives some rate back, up to the full rate: pacing stops.
    rates = []
    for _ in range(30):
        rl.acquire()
        rl.release(headers(1000, 800, end))
        rates.append(rl.effective_rate)
    assert rates == sorted(rates) and rates[0] > 70
    assert not rl.paced and rl.effective_rate == 100
    assert rl.counters()["min_effective_rate"] == pytest.approx(70)


def test_429s_with_budget_left_cut_once_per_round_and_never_below_the_floor() -> None:
    clock = FakeClock()
    rl = limiter(6000, clock)
    end = (clock.t // 10 + 1) * 10
    all_sent = threading.Barrier(4)

    def throttled() -> None:
        rl.acquire()
        all_sent.wait(timeout=5)
        rl.release(headers(1000, 900, end), rate_limited=True)

    # Four requests in flight on four threads, all throttled by the same burst.
    threads = [threading.Thread(target=throttled) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rl.throttles_with_budget == 4
    assert rl.effective_rate == pytest.approx(70)  # one cut, not four
    for _ in range(20):  # throttled one after another: each is a new round
        rl.acquire()
        rl.release(headers(1000, 900, end), rate_limited=True)
    assert rl.effective_rate == 5  # the floor: 5% of the full rate
    assert rl.window_waits == 0


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


# -- property: any sequence of answers, on the fake clock -------------------------------------
ANSWERS = st.sampled_from(["ok", "ok", "ok", "throttled", "spent", "late"])
STEPS = st.lists(
    st.tuples(ANSWERS, st.integers(0, 4000), st.integers(5, 10)), min_size=1, max_size=40
)


class FakeServer:
    """Intercom's windows on the fake clock: ``limit`` calls per aligned 10 s window, and a
    refusal until a Reset once it has answered "window spent" (FACTS.md §5)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.counts: Counter[int] = Counter()
        self.refuse_until = 0.0

    def earliest(self, t: float) -> float:
        """The earliest time from ``t`` at which this server would accept a call."""
        t = max(t, self.refuse_until)
        if self.counts[int(t // 10)] >= self.limit:
            t = (t // 10 + 1) * 10
        return t

    def call(self, t: float, answer: str, late_by: int) -> tuple[dict[str, str], bool]:
        """Count a call sent at ``t``; (its headers, whether it is a 429)."""
        assert t >= self.refuse_until, "sent before the server's X-RateLimit-Reset"
        window = int(t // 10)
        assert self.counts[window] < self.limit, "sent over the server's window budget"
        self.counts[window] += 1
        end = (window + 1) * 10
        remaining = self.limit - self.counts[window]
        if answer == "throttled" and remaining > 0:
            return headers(self.limit, remaining, end), True
        if answer in ("spent", "late"):
            self.refuse_until = end + (late_by if answer == "late" else 0)
            return headers(self.limit, 0, self.refuse_until), True
        return headers(self.limit, remaining, end), False


@settings(max_examples=150, deadline=None)
@given(limit=st.integers(2, 30), steps=STEPS)
def test_any_answers_keep_the_budget_and_wait_no_longer_than_needed(
    limit: int, steps: list[tuple[str, int, int]]
) -> None:
    """Whatever the server answers (200, 429 with budget left, 429 window spent, 429 with a
    late Reset) and however the calls are spaced, the limiter never sends over the server's
    window budget or before its Reset; it never waits for a window the server has not closed
    (beyond one pacing interval at the slowest pace); its pace stays between its floor and
    the full rate, and comes back to the full rate after enough answered calls."""
    clock = FakeClock()
    rl = limiter(6000, clock)  # our cap (1,000 per window) is far above the server's limit
    # Once announced, the server's limit is the budget: the pace's full rate and its floor.
    full = limit / 10
    floor = max(full * 0.05, min(full, 0.5))
    slowest = 1 / floor
    server = FakeServer(limit)
    for answer, gap_ms, late_by in [*steps, *[("ok", 0, 5)] * 20]:
        clock.sleep(gap_ms / 1000)
        earliest = server.earliest(clock.t)
        rl.acquire()
        assert clock.t <= earliest + slowest + 1e-6, "waited for a window nobody closed"
        sent_headers, limited = server.call(clock.t, answer, late_by)
        rl.release(sent_headers, rate_limited=limited)
        assert rl.budget_per_window == limit
        assert floor - 1e-9 <= rl.effective_rate <= full + 1e-9
    assert not rl.paced


def test_the_budget_is_the_servers_announced_limit_less_the_reserve_under_our_cap() -> None:
    clock = FakeClock()
    rl = RateLimiter(None, reserve=0.1, time_fn=clock.time, sleep_fn=clock.sleep, jitter=0.0)
    assert rl.budget_per_window == 1499  # Intercom's default 10,000/min, until it says
    rl.acquire()
    rl.release(headers(5000, 4999, clock.t + 10))  # an app with a raised limit
    assert rl.budget_per_window == 4500
    rl.acquire()
    rl.release(headers(167, 160, clock.t + 10))  # a 1,000/min app
    assert rl.budget_per_window == 150
    capped = RateLimiter(600, reserve=0.1, time_fn=clock.time, sleep_fn=clock.sleep, jitter=0.0)
    capped.acquire()
    capped.release(headers(1666, 1665, clock.t + 10))
    assert capped.budget_per_window == 100  # max_requests_per_minute still caps it
    sent = 0
    for _ in range(130):  # one window: the budget, then a wait for the next
        capped.acquire()
        sent += 1
        capped.release(None)
    assert capped.window_waits >= 1 and sent == 130
