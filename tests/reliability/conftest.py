"""The reliability suite's fixtures and its session-wide checks.

Every test here runs with the canary token (``reliability_support.CANARY``): the sandbox
accepts only it and the tap and target use it as ``access_token``. What the suite produces is
scanned for it: captured output and logs of every test (the report hook below), every log
record (a handler on the root logger), every subprocess's stdout and stderr and every
in-process run's output (the helpers), and at the end every file under pytest's temporary
directory except config files (rejects files, states, Singer input and output). A leak fails
the test that produced it and, at the end, the session. The figures the tests measured are
printed in the terminal summary.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from reliability_support import CANARY, D0, LEDGER, Ctl, is_config_file

from intercom_sandbox.server import RunningSandbox, start

# Our loggers log at every level during the suite, so the canary check sees their debug lines.
OUR_LOGGERS = ("intercom_api", "tap_intercom", "target_intercom", "tap-intercom", "target-intercom")


class CanaryLogHandler(logging.Handler):
    """Scans every log record (message and traceback) for the canary."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            text = f"{record.msg} {record.args}"
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        LEDGER.scan("log record", record.name, text)


@pytest.fixture(scope="module", autouse=True)
def canary_logs() -> Iterator[None]:
    """Scan every log record of this suite's modules (module fixtures included: autouse
    fixtures come first in their scope); our loggers log at every level meanwhile. Undone
    after each module, so the other suites of a whole-project run are left as they were."""
    handler = CanaryLogHandler(level=logging.DEBUG)
    root = logging.getLogger()
    root.addHandler(handler)
    levels = {name: logging.getLogger(name).level for name in OUR_LOGGERS}
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="session", autouse=True)
def canary_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The final check: every file the session wrote (but config files) is scanned, then no
    artifact scanned in the whole session may hold the canary."""
    yield
    base = tmp_path_factory.getbasetemp()
    for path in sorted(base.rglob("*")):
        if path.is_file() and not is_config_file(path):
            LEDGER.scan_file(_file_kind(path), path)
    assert not LEDGER.leaks, f"the canary token leaked into: {LEDGER.leaks}"


def _file_kind(path: Path) -> str:
    name = path.name
    if "reject" in name:
        return "rejects file"
    if "state" in name:
        return "state file"
    return "file"


@pytest.fixture(autouse=True)
def canary_per_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test that leaked the canary into a file of its own tmp_path."""
    before = len(LEDGER.leaks)
    yield
    tmp = request.node.funcargs.get("tmp_path")
    if isinstance(tmp, Path):
        for path in sorted(tmp.rglob("*")):
            if path.is_file() and not is_config_file(path):
                LEDGER.scan_file(_file_kind(path), path)
    new = LEDGER.leaks[before:]
    assert not new, f"the canary token leaked into: {new}"


REDACTED = "<canary>"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Scan each phase's captured stdout, stderr and log, and the error raised, for the canary.

    A canary there is a leak by the code under test: the test fails. A canary elsewhere in a
    failure report is the harness's own doing (pytest prints the arguments of each frame,
    e.g. a config dict): it is redacted, so the test output never shows the token.
    """
    report: pytest.TestReport = yield
    where = f"{item.nodeid} ({report.when})"
    before = len(LEDGER.leaks)
    for title, content in report.sections:
        LEDGER.scan("captured output", f"{where}: {title}", content)
    if call.excinfo is not None:
        error = call.excinfo.value
        LEDGER.scan("error message", where, f"{error!r} {error}")
    leaked = LEDGER.leaks[before:]
    text = report.longreprtext if report.longrepr is not None else ""
    if CANARY in text or leaked:
        report.sections = [(t, c.replace(CANARY, REDACTED)) for t, c in report.sections]
        note = f"\nthe canary token leaked into: {leaked}" if leaked else ""
        report.longrepr = text.replace(CANARY, REDACTED) + note
        if leaked:
            report.outcome = "failed"
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The figures the suite measured, and the canary check."""
    if not LEDGER.scanned:
        return
    tr = terminalreporter
    tr.section("reliability figures")
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(LEDGER.kinds.items()))
    tr.write_line(
        f"canary token: {LEDGER.scanned} artifacts scanned "
        f"({LEDGER.scanned_bytes / 1e6:.1f} MB; {kinds}); found in {len(LEDGER.leaks)}"
    )
    for leak in LEDGER.leaks[:20]:
        tr.write_line(f"  LEAK: {leak}")
    if LEDGER.faults_injected:
        per_kind = ", ".join(
            f"{k} {LEDGER.faults_survived[k]}/{n}"
            for k, n in sorted(LEDGER.faults_injected.items())
        )
        tr.write_line(f"faults survived/injected per kind: {per_kind}")
    if LEDGER.crash_points:
        tr.write_line(
            "crash points tried (SIGKILL): "
            + ", ".join(f"{k} {n}" for k, n in sorted(LEDGER.crash_points.items()))
        )
    if LEDGER.bad_inputs:
        tr.write_line(
            f"bad inputs tried: {sum(LEDGER.bad_inputs.values())} ("
            + ", ".join(f"{k} {n}" for k, n in sorted(LEDGER.bad_inputs.items()))
            + ")"
        )
    if LEDGER.records_checked:
        tr.write_line(
            "records checked: "
            + ", ".join(f"{k} {n}" for k, n in sorted(LEDGER.records_checked.items()))
        )
    tr.write_line(
        f"records lost: {LEDGER.records_lost}; duplicated contacts: {LEDGER.duplicated_contacts}"
    )


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """An empty sandbox accepting only the canary token, its clock frozen at D0."""
    sbx = start(tokens=[CANARY], random_seed=1, clock_start=D0)
    try:
        yield sbx
    finally:
        sbx.stop()


@pytest.fixture
def ctl(sandbox: RunningSandbox) -> Ctl:
    c = Ctl(sandbox)
    c.clock(D0)
    return c


@pytest.fixture
def api(sandbox: RunningSandbox) -> Iterator[requests.Session]:
    """A raw HTTP session on the sandbox with the canary token; ``api.base`` is the base URL."""
    s = requests.Session()
    s.headers.update(
        {
            "Authorization": f"Bearer {CANARY}",
            "Accept": "application/json",
            "Intercom-Version": "2.16",
        }
    )
    s.base = sandbox.base_url  # type: ignore[attr-defined]
    try:
        yield s
    finally:
        s.close()
