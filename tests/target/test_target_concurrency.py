"""Writes in flight follow the rate budget and the measured latency (issue 12): a user need
not compute worker counts; max_workers is the floor, 32 the ceiling."""

from __future__ import annotations

import logging
import threading
import time

from intercom_api import ClientSettings
from target_intercom.settings import TargetOptions
from target_intercom.workspace import Workspace


def peak_in_flight(ws: Workspace, items: int) -> int:
    lock = threading.Lock()
    now = [0]
    peak = [0]

    def write(_: int) -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.02)
        with lock:
            now[0] -= 1

    ws.map_all(write, range(items))
    return peak[0]


def test_writes_in_flight_grow_with_latency_up_to_the_budget() -> None:
    settings = ClientSettings(
        access_token="t", base_url="http://127.0.0.1:9", max_workers=2, max_requests_per_minute=6000
    )
    ws = Workspace(settings, TargetOptions(), logging.getLogger("test"))
    try:
        assert peak_in_flight(ws, 20) <= 2  # nothing measured yet: max_workers
        for _ in range(100):
            ws.client._observe_latency(0.1)  # 100 calls/s x 0.1 s x 1.25 -> 13 in flight
        assert 3 <= peak_in_flight(ws, 60) <= 13
        for _ in range(300):
            ws.client._observe_latency(2.0)
        assert 14 <= peak_in_flight(ws, 80) <= 32  # never more than the ceiling
    finally:
        ws.close()
