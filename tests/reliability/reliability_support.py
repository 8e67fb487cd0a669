"""Helpers of the reliability suite.

- ``CANARY``: the session's random access token. The sandbox accepts only it and every tap
  and target run uses it, so a leak anywhere is found by one substring search.
- ``LEDGER``: every output, log, rejects file and state the suite produced is scanned for the
  canary as it is collected; the figures (faults, crash points, bad inputs) are added up
  there and printed by conftest.py at the end of the session.
- Runs of the tap and target, in this process or as the console scripts, on a sandbox.
- ``tap_peak_memory``: a tap run's own peak memory.
(Target input and normalised sandbox state: ``reliability_data``.)
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from intercom_sandbox.server import RunningSandbox
from tap_intercom.tap import TapIntercom
from tap_intercom.transform import iso
from target_intercom.target import TargetIntercom

CANARY = f"canary-{secrets.token_hex(16)}"
DAY = 86_400
D0 = 1_749_513_600  # 2025-06-10 00:00:00 UTC: the sandbox clock of every test here
START_DATE = iso(D0 - 400 * DAY)  # before anything the seeder creates (365 days of history)
TAP_STREAMS = ("users", "leads", "conversations")
BIN = Path(sys.executable).parent
SUBPROCESS_TIMEOUT = 180


# -- the ledger ------------------------------------------------------------------------------
@dataclass
class Ledger:
    """Artifacts scanned for the canary, and the figures the suite measured."""

    scanned: int = 0
    scanned_bytes: int = 0
    leaks: list[str] = field(default_factory=list)
    kinds: Counter[str] = field(default_factory=Counter)
    faults_injected: Counter[str] = field(default_factory=Counter)
    faults_survived: Counter[str] = field(default_factory=Counter)
    crash_points: Counter[str] = field(default_factory=Counter)
    bad_inputs: Counter[str] = field(default_factory=Counter)
    records_checked: Counter[str] = field(default_factory=Counter)
    records_lost: int = 0
    duplicated_contacts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def scan(self, kind: str, label: str, content: str | bytes | None) -> None:
        """Look for the canary in one artifact (an output, a log, a file) and count it."""
        if content is None:
            return
        needle: str | bytes = CANARY.encode() if isinstance(content, bytes) else CANARY
        with self._lock:
            self.scanned += 1
            self.scanned_bytes += len(content)
            self.kinds[kind] += 1
            if needle in content:  # type: ignore[operator]
                self.leaks.append(f"{kind}: {label}")

    def scan_file(self, kind: str, path: Path) -> None:
        if path.is_file():
            self.scan(kind, str(path), path.read_bytes())

    def faults(self, injected: dict[str, int], *, survived: bool) -> None:
        with self._lock:
            for kind, n in injected.items():
                self.faults_injected[kind] += n
                if survived:
                    self.faults_survived[kind] += n


LEDGER = Ledger()


def is_config_file(path: Path) -> bool:
    """Config files are inputs holding the token on purpose: the only files not scanned."""
    return "config" in path.name and path.suffix == ".json"


# -- the sandbox -----------------------------------------------------------------------------
class Ctl:
    """The sandbox's control API (/_sandbox/...) and authenticated Intercom calls."""

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.base = sandbox.base_url
        self.http = requests.Session()
        self.http.headers.update(
            {
                "Authorization": f"Bearer {CANARY}",
                "Accept": "application/json",
                "Intercom-Version": "2.16",
            }
        )

    def control(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        r = self.http.request(method, f"{self.base}/_sandbox/{path}", json=body, timeout=120)
        assert r.status_code == 200, r.text
        return r.json()

    def clock(self, ts: float, *, frozen: bool = True) -> None:
        self.control("POST", "clock", {"set": ts, "frozen": frozen})

    def advance(self, seconds: float) -> None:
        self.control("POST", "clock", {"advance": seconds})

    def config(self, **values: Any) -> None:
        self.control("POST", "config", values)

    def seed(self, **counts: int) -> dict[str, Any]:
        return self.control("POST", "seed", counts)

    def faults(self, **config: Any) -> dict[str, Any]:
        """Replace the fault configuration (``rates``, ``latency_ms``, ``jitter_ms``...)."""
        return self.control("POST", "faults", {"clear": True, **config})

    def clear_faults(self) -> None:
        self.control("POST", "faults", {"clear": True})

    def stats(self) -> dict[str, Any]:
        return self.control("GET", "stats")

    def reset_stats(self) -> None:
        self.control("DELETE", "stats")

    def reset(self) -> None:
        self.control("POST", "reset")

    def dump(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """An Intercom API call that must succeed."""
        r = self.http.request(method, f"{self.base}{path}", json=body, timeout=60)
        assert r.status_code < 300, r.text
        return r.json() if r.content else {}


def fast_rate_windows(monkeypatch: Any) -> None:
    """Time compression for tests of injected 429s: rate windows last 1 s instead of
    Intercom's 10 s (FACTS.md §5), in the sandbox and in the client's limiter alike (budgets
    per window shrink in proportion), so waiting for X-RateLimit-Reset costs at most a second
    per 429. Only the window length changes; the client's logic is the same."""
    monkeypatch.setattr("intercom_sandbox.ratelimit.WINDOW_SECONDS", 1)
    monkeypatch.setattr("intercom_api.ratelimit.WINDOW_SECONDS", 1.0)


# -- Singer output -----------------------------------------------------------------------------
def parse_lines(text: str) -> list[dict[str, Any]]:
    """Singer messages from output text; a last line cut short by a kill is dropped."""
    out = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            if i != len(lines) - 1:
                raise
    return out


@dataclass
class Output:
    """What one run of a plugin wrote: its messages, stderr, exit code or exception."""

    messages: list[dict[str, Any]]
    stderr: str = ""
    returncode: int | None = None
    error: BaseException | None = None

    def records(self, stream: str) -> list[dict[str, Any]]:
        return [
            m["record"]
            for m in self.messages
            if m.get("type") == "RECORD" and m["stream"] == stream
        ]

    def ids(self, stream: str) -> list[str]:
        return [str(r["id"]) for r in self.records(stream)]

    def latest(self, stream: str) -> dict[str, dict[str, Any]]:
        """The last record emitted per id."""
        return {str(r["id"]): r for r in self.records(stream)}

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.messages if m.get("type") == "STATE"]

    @property
    def last_state(self) -> dict[str, Any] | None:
        states = self.states
        return states[-1] if states else None


def _tap_config(base_url: str, config: dict[str, Any]) -> dict[str, Any]:
    """The tap's config on the sandbox; a None value removes that key."""
    full = {"access_token": CANARY, "api_url": base_url, "start_date": START_DATE, **config}
    return {k: v for k, v in full.items() if v is not None}


def run_tap(
    base_url: str,
    *,
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
    expect_error: bool = False,
    **config: Any,
) -> Output:
    """A full sync in this process (streams users, leads, conversations by default)."""
    tap = TapIntercom(
        config=_tap_config(base_url, config), state=state, catalog=catalog, setup_mapper=True
    )
    buffer = io.BytesIO()
    out = io.TextIOWrapper(buffer, encoding="utf-8")
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            tap.sync_all()
        except Exception as e:
            if not expect_error:
                raise
            error = e
    out.flush()
    text = buffer.getvalue().decode("utf-8")
    LEDGER.scan("tap output", "in-process tap stdout", text)
    if error is not None:
        LEDGER.scan("error message", "in-process tap error", f"{error!r} {error}")
    if expect_error:
        assert error is not None, "the tap run was expected to fail"
    return Output(parse_lines(text), error=error)


def tap_command() -> list[str]:
    script = BIN / "tap-intercom"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tap_intercom.tap"]


def target_command(*, drain_every_minutes: float | None = None) -> list[str]:
    """The console script; with ``drain_every_minutes``, the same program with singer-sdk's
    max record age (5 minutes: when a long run drains every sink and emits STATE) lowered, so
    that a short run emits STATE as a long one does."""
    if drain_every_minutes is not None:
        code = (
            "from target_intercom.target import TargetIntercom as T; "
            f"T._MAX_RECORD_AGE_IN_MINUTES = {drain_every_minutes!r}; T.cli()"
        )
        return [sys.executable, "-c", code]
    script = BIN / "target-intercom"
    return [str(script)] if script.exists() else [sys.executable, "-m", "target_intercom.target"]


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


def finish(proc: subprocess.Popen[bytes], stdout: bytes, label: str) -> Output:
    """Collect a finished subprocess's stderr, scan both streams, parse the messages."""
    assert proc.stderr is not None
    stderr = proc.stderr.read().decode("utf-8", "replace")
    proc.stderr.close()
    if proc.stdout is not None:
        proc.stdout.close()
    code = proc.wait(SUBPROCESS_TIMEOUT)
    text = stdout.decode("utf-8", "replace")
    LEDGER.scan("subprocess stdout", label, text)
    LEDGER.scan("subprocess stderr", label, stderr)
    return Output(parse_lines(text), stderr=stderr, returncode=code)


def as_states(output: Output) -> Output:
    """A target writes bare state values, one per line: make them STATE messages."""
    output.messages = [{"type": "STATE", "value": v} for v in output.messages]
    return output


def spawn(args: list[str], stdin: Any = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env()
    )


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("SINGER_SDK_LOG_CONFIG", "PYTHONUNBUFFERED"):
        env.pop(name, None)  # the programs as a user runs them
    return env


def run_tap_cli(
    tmp: Path,
    base_url: str,
    *,
    state: dict[str, Any] | None = None,
    kill_after_lines: int | None = None,
    kill_signal: int = signal.SIGKILL,
    name: str = "tap",
    **config: Any,
) -> Output:
    """``tap-intercom --config ... [--state ...]``; with ``kill_after_lines``, sent
    ``kill_signal`` once that many lines were read from its stdout (what it writes after that
    is kept)."""
    cfg = write_json(tmp / f"{name}-config.json", _tap_config(base_url, config))
    args = [*tap_command(), "--config", str(cfg)]
    if state is not None:
        args += ["--state", str(write_json(tmp / f"{name}-state.json", state))]
    proc = spawn(args)
    assert proc.stdout is not None
    chunks: list[bytes] = []
    for lines, line in enumerate(iter(proc.stdout.readline, b""), start=1):
        chunks.append(line)
        if kill_after_lines is not None and lines == kill_after_lines:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(kill_signal)
    chunks.append(proc.stdout.read())
    return finish(proc, b"".join(chunks), f"{name}: {' '.join(args[1:])}")


def run_target_cli(
    tmp: Path,
    config: dict[str, Any],
    lines: Iterable[dict[str, Any] | str],
    *,
    name: str = "target",
    on_start: Callable[[subprocess.Popen[bytes]], None] | None = None,
    drain_every_minutes: float | None = None,
) -> Output:
    """``target-intercom --config ... --input ...``; ``on_start`` gets the process (to arm a
    kill) before it reads anything."""
    path = tmp / f"{name}.singer"
    path.write_text(singer_text(lines), encoding="utf-8")
    cfg = write_json(tmp / f"{name}-config.json", config)
    command = target_command(drain_every_minutes=drain_every_minutes)
    args = [*command, "--config", str(cfg), "--input", str(path)]
    proc = spawn(args)
    if on_start is not None:
        on_start(proc)
    assert proc.stdout is not None
    stdout = proc.stdout.read()
    return as_states(finish(proc, stdout, f"{name}: {' '.join(args[1:])}"))


def run_target(
    config: dict[str, Any], lines: Iterable[dict[str, Any] | str], *, expect_error: bool = False
) -> tuple[TargetIntercom, Output]:
    """The target in this process on Singer ``lines``; rejects and STATE lines are scanned."""
    target = TargetIntercom(config=config)
    out = io.StringIO()
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            target.listen(io.StringIO(singer_text(lines)))
        except Exception as e:
            if not expect_error:
                raise
            error = e
    text = out.getvalue()
    LEDGER.scan("target output", "in-process target stdout", text)
    if error is not None:
        LEDGER.scan("error message", "in-process target error", f"{error!r} {error}")
    LEDGER.scan_file("rejects file", Path(target.options.rejects_file))
    if expect_error:
        assert error is not None, "the target run was expected to fail"
    return target, as_states(Output(parse_lines(text), error=error))


def read_rejects(path: Path, run_id: str | None = None) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in rows if run_id is None or r.get("run_id") == run_id]


def singer_text(lines: Iterable[dict[str, Any] | str]) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in lines)


# -- memory ---------------------------------------------------------------------------------------
# Runs a command and writes its peak RSS (KB) to a file. Why a wrapper: a child's ru_maxrss
# also counts the image it had between fork and exec, i.e. its parent's; started from this
# small wrapper rather than from a big test process (a seeded sandbox in it), the tap's
# figure is its own.
PEAK_WRAPPER = (
    "import os, subprocess, sys; "
    "p = subprocess.Popen(sys.argv[2:]); _, status, usage = os.wait4(p.pid, 0); "
    "open(sys.argv[1], 'w').write(str(usage.ru_maxrss)); "
    "sys.exit(os.waitstatus_to_exitcode(status))"
)


def tap_peak_memory(tmp: Path, base_url: str, **config: Any) -> tuple[int, float]:
    """Run ``tap-intercom`` to the end; return (records emitted, its peak RSS in MB).

    Output is counted as it streams (never kept), so only the tap's own memory is measured.
    """
    cfg = write_json(tmp / "memory-config.json", _tap_config(base_url, config))
    peak = tmp / "memory-peak.txt"
    proc = subprocess.Popen(
        [sys.executable, "-c", PEAK_WRAPPER, str(peak), *tap_command(), "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )
    assert proc.stdout is not None
    records = 0
    tail = b""
    while chunk := proc.stdout.read(1 << 20):
        data = tail + chunk
        records += data.count(b'"type":"RECORD"')
        tail = data[-20:]
        records -= tail.count(b'"type":"RECORD"')
    records += tail.count(b'"type":"RECORD"')
    proc.stdout.close()
    assert proc.wait(SUBPROCESS_TIMEOUT) == 0, f"tap-intercom exited with {proc.returncode}"
    return records, int(peak.read_text()) / 1024
