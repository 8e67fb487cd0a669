"""Helpers for the target tests (imported by test modules; conftest exposes fixtures)."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from intercom_sandbox.server import RunningSandbox
from target_intercom.target import TargetIntercom

TOKEN = "sandbox-token"
DATA = Path(__file__).parent / "data"


@dataclass
class Run:
    """What one target run left: the target, the STATE lines it printed, its rejects."""

    target: TargetIntercom
    states: list[dict[str, Any]]
    rejects: list[dict[str, Any]]
    error: BaseException | None = None

    def count(self, stream: str, outcome: str) -> int:
        return self.target.summary()["streams"].get(stream, {}).get(outcome, 0)

    def outcomes(self, stream: str) -> dict[str, int]:
        counts = self.target.summary()["streams"].get(stream, {})
        return {k: v for k, v in counts.items() if v}

    def reject_at(self, line_number: int) -> dict[str, Any]:
        found = [r for r in self.rejects if r["line_number"] == line_number]
        assert len(found) == 1, f"expected one reject at line {line_number}: {self.rejects}"
        return found[0]


def run_target(
    config: dict[str, Any],
    source: str | Path,
    *,
    raises: type[BaseException] | None = None,
    **overrides: Any,
) -> Run:
    """Run the target in-process on ``source`` (Singer text or a .singer file).

    With ``raises``, the run must fail with that error (kept in ``Run.error``).
    """
    text = source.read_text(encoding="utf-8") if isinstance(source, Path) else source
    target = TargetIntercom(config={**config, **overrides})
    out = io.StringIO()
    error: BaseException | None = None
    with contextlib.redirect_stdout(out):
        try:
            target.listen(io.StringIO(text))
        except BaseException as e:
            if raises is None or not isinstance(e, raises):
                raise
            error = e
    if raises is not None:
        assert error is not None, f"the run did not fail with {raises.__name__}"
    states = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    path = Path(target.options.rejects_file)
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    rejects = [r for r in map(json.loads, lines) if r["run_id"] == target.run_id]
    return Run(target, states, rejects, error)


def singer(*messages: dict[str, Any] | str) -> str:
    """Singer input text: dicts are JSON-encoded, strings are kept as raw lines."""
    return "\n".join(m if isinstance(m, str) else json.dumps(m) for m in messages) + "\n"


def contacts(sandbox: RunningSandbox, role: str | None = None) -> list[dict[str, Any]]:
    """Every live contact in the sandbox (archived ones carry ``archived: true``)."""
    found = sandbox.backend.dump()["contacts"]["contacts"]
    return [c for c in found if role is None or c["role"] == role]


def by_email(sandbox: RunningSandbox, role: str) -> dict[str, list[dict[str, Any]]]:
    """Contacts of ``role`` keyed by lower-case e-mail (a list: leads may share one)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for c in contacts(sandbox, role):
        out.setdefault((c.get("email") or "").lower(), []).append(c)
    return out


def post(api: requests.Session, path: str, body: Any = None) -> dict[str, Any]:
    """A call on the sandbox's Intercom API, which must succeed."""
    r = api.post(f"{api.base}{path}", json=body)  # type: ignore[attr-defined]
    assert r.status_code < 300, r.text
    return r.json() if r.content else {}


def create_attribute(
    api: requests.Session, name: str, data_type: str, model: str = "contact"
) -> None:
    post(api, "/data_attributes", {"name": name, "model": model, "data_type": data_type})


def schema_message(
    stream: str, key_properties: list[str], properties: dict[str, Any]
) -> dict[str, Any]:
    """A Singer SCHEMA message for ``stream`` with these column types."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "key_properties": key_properties,
        "schema": {"type": "object", "properties": properties},
    }
