"""Helpers shared by the benchmark scripts: a sandbox in a subprocess, its CPU and memory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import typing
from dataclasses import dataclass
from pathlib import Path

import requests

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_memory_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB, from /proc/<pid>/status."""
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def count_records(stream: typing.IO[bytes]) -> int:
    """RECORD messages in a Singer byte stream, read in 1 MiB chunks without parsing JSON."""
    needle = b'"type":"RECORD"'
    records = 0
    tail = b""
    while chunk := stream.read(1 << 20):
        data = tail + chunk
        records += data.count(needle)
        tail = data[-len(needle) :]
        records -= tail.count(needle)  # counted again with the next chunk
    return records + tail.count(needle)


def tap_command() -> list[str]:
    """The installed tap-intercom beside this interpreter (or the module)."""
    script = Path(sys.executable).with_name("tap-intercom")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tap_intercom.tap"]


@dataclass
class TapRun:
    records: int
    wall: float
    cpu: float  # user + system seconds of the tap process alone (wait4)
    maxrss: float  # MB, ru_maxrss
    samples: list[tuple[float, float]]  # (seconds since start, RSS MB)

    def rss_at(self, share: float) -> float:
        """RSS at ``share`` (0..1) of the run's wall time."""
        if not self.samples:
            return 0.0
        return next((r for t, r in self.samples if t >= share * self.wall), self.samples[-1][1])


def run_tap(args: list[str], *, sample_every: float | None = 0.25) -> TapRun:
    """Run tap-intercom to the end as a child; count its RECORDs; sample its RSS."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [*tap_command(), *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    samples: list[tuple[float, float]] = []
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while sample_every is not None and not done.wait(sample_every):
            try:
                rss, hwm = proc_memory_mb(proc.pid)
            except (FileNotFoundError, ProcessLookupError, ValueError):
                return
            samples.append((time.monotonic() - started, rss))
            peak[0] = max(peak[0], hwm)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stdout is not None
    records = count_records(proc.stdout)
    _, status, usage = os.wait4(proc.pid, 0)
    done.set()
    sampler.join()
    wall = time.monotonic() - started
    if status != 0:
        raise SystemExit(f"tap-intercom exited with status {status}")
    cpu = usage.ru_utime + usage.ru_stime
    return TapRun(records, wall, cpu, max(peak[0], usage.ru_maxrss / 1024), samples)


@dataclass
class SandboxProcess:
    proc: subprocess.Popen[str]
    base_url: str
    token: str = "sandbox-token"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def control(self, method: str, path: str, **kw: object) -> dict:
        r = requests.request(method, f"{self.base_url}/_sandbox/{path}", timeout=600, **kw)
        r.raise_for_status()
        return r.json()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def write_tap_config(path: Path, sandbox: SandboxProcess, **settings: object) -> Path:
    """The tap's config file for a sandbox: everything since 2000, plus ``settings``."""
    config = {
        "access_token": sandbox.token,
        "api_url": sandbox.base_url,
        "start_date": "2000-01-01T00:00:00Z",
        **settings,
    }
    path.write_text(json.dumps(config))
    return path


def start_sandbox(*args: str, timeout: float = 600) -> SandboxProcess:
    """Start ``python -m intercom_sandbox --port 0 ARGS`` and wait for its base URL line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "intercom_sandbox", "--port", "0", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("http") or time.monotonic() > deadline:
        proc.kill()
        raise RuntimeError(f"sandbox did not start (printed {line!r})")
    return SandboxProcess(proc, line)
