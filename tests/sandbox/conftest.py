"""Every response the sandbox serves during these tests is checked against the 2.16 spec.

The `sandbox` fixture here overrides the root one: it registers an observer on the server,
and after the test validates each distinct (operation, status, body) it saw, failing the
test with the spec violations found. Skips the check (not the test) where ../shared is absent.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.spec import checker, spec_available

from intercom_sandbox.server import RunningSandbox, start

TOKEN = "sandbox-token"


@pytest.fixture
def sandbox(request: pytest.FixtureRequest) -> Iterator[RunningSandbox]:
    sbx = start(tokens=[TOKEN], random_seed=1)
    seen: dict[tuple[str, int, bytes], None] = {}

    def observe(operation_id: str, status: int, payload: bytes) -> None:
        if operation_id != "unknown" and status != 501:
            seen[(operation_id, status, payload)] = None

    sbx.app.observers.append(observe)
    try:
        yield sbx
    finally:
        sbx.stop()
    if not spec_available() or request.node.get_closest_marker("no_spec_check"):
        return
    spec = checker()
    problems: list[str] = []
    for operation_id, status, payload in list(seen):
        problems.extend(spec.errors(operation_id, status, payload))
    if problems:
        unique = list(dict.fromkeys(problems))
        pytest.fail(
            f"{len(unique)} response(s) break the 2.16 spec:\n" + "\n".join(unique[:40]),
            pytrace=False,
        )
