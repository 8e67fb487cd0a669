"""Bad input to the target, generated (hypothesis, derandomized): the target never crashes on
a record; every bad line or record is rejected with its reason; the good records land.

Each example is a Singer stream: a valid users SCHEMA, a good record, generated lines (random
records with wrong types, missing keys, huge strings and unicode; records for unknown
streams or before their SCHEMA; records that are not objects; messages with missing keys;
lines that are not JSON or not Singer messages), another good record, and a STATE.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import CANARY, D0, LEDGER, Ctl, read_rejects, run_target

from intercom_sandbox.server import RunningSandbox, start

USERS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": [],
    "schema": {
        "type": "object",
        "properties": {
            "email": {},
            "name": {},
            "external_id": {},
            "phone": {},
            "signed_up_at": {},
            "unsubscribed_from_emails": {},
            "companies": {},
            "tags": {},
            "custom_attributes": {},
        },
    },
}
ORDERS_SCHEMA = {
    "type": "SCHEMA",
    "stream": "orders",
    "key_properties": ["id"],
    "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
}
FUZZ = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- strategies --------------------------------------------------------------------------------
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["", " ", "0", "true", "2024-13-45", "1e400", "NaN", "\u202e\u0000"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
huge = st.sampled_from(["x" * 300_000, "é" * 100_000, "🙂" * 60_000, "a@" + "b" * 70_000 + ".com"])
emails = st.one_of(
    st.emails(),
    st.text(max_size=30),
    st.sampled_from(["no-at-sign", "a@b", "ünï@cödé.example", "UPPER@EXAMPLE.COM", "x@y.z "]),
    values,
    huge,
)
FIELDS = ("name", "external_id", "phone", "signed_up_at", "unsubscribed_from_emails")
records = st.fixed_dictionaries(
    {},
    optional={
        "email": emails,
        **{name: values | huge for name in FIELDS},
        "companies": values,
        "tags": values,
        "custom_attributes": values,
    },
)
not_objects = st.one_of(st.lists(values, max_size=3), scalars)


def _not_a_message(text: str) -> bool:
    try:
        parsed = json.loads(text)
    except ValueError:
        return True
    return not (isinstance(parsed, dict) and "type" in parsed)


garbage_lines = st.one_of(
    st.text(min_size=1, max_size=60).filter(
        lambda t: t.strip() and "\n" not in t and "\r" not in t
    ),
    st.sampled_from(
        [
            '{"type": "RECORD", "stream": "users", "record": {"email": ',
            "[1, 2, 3]",
            '"just a string"',
            '{"no_type": 1}',
            '{"type": "NOPE", "stream": "users"}',
            "{" * 5000,
            "\ufeff{}",
        ]
    ),
).filter(_not_a_message)


def record_line(record: Any, stream: str = "users") -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": record}


lines = st.one_of(
    records.map(record_line),
    not_objects.map(record_line),
    records.map(lambda r: record_line(r, "orders")),  # a stream the target does not write
    records.map(lambda r: record_line(r, "late")),  # RECORD before any SCHEMA for it
    st.sampled_from(
        [
            {"type": "RECORD", "stream": "users"},  # no record
            {"type": "RECORD", "record": {"email": "nostream@example.com"}},  # no stream
        ]
    ),
    garbage_lines,
)


# -- the run -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fuzz_sandbox() -> Iterator[tuple[RunningSandbox, Ctl]]:
    sbx = start(tokens=[CANARY], random_seed=9, clock_start=D0)
    try:
        yield sbx, Ctl(sbx)
    finally:
        sbx.stop()


def outcomes(summary: dict[str, Any]) -> int:
    return sum(sum(counts.values()) for counts in summary["streams"].values())


@FUZZ
@given(generated=st.lists(lines, min_size=1, max_size=12))
def test_target_rejects_bad_input_with_reasons_and_lands_the_good_records(
    fuzz_sandbox: tuple[RunningSandbox, Ctl],
    tmp_path_factory: pytest.TempPathFactory,
    generated: list[dict[str, Any] | str],
) -> None:
    sbx, ctl = fuzz_sandbox
    ctl.reset()
    tmp = tmp_path_factory.mktemp("fuzz")
    good = [
        record_line({"email": "first@example.com", "name": "First"}),
        record_line({"email": "last@example.com", "name": "Last ✓"}),
    ]
    stream = [USERS_SCHEMA, ORDERS_SCHEMA, good[0], *generated, good[1]]
    stream.append({"type": "SCHEMA", **{k: v for k, v in USERS_SCHEMA.items() if k != "type"}})
    stream[-1]["stream"] = "late"
    stream.append({"type": "STATE", "value": {"done": True}})
    config = {
        "access_token": CANARY,
        "api_url": sbx.base_url,
        "rejects_file": str(tmp / "rejects.jsonl"),
        "max_retries": 1,
    }
    target, out = run_target(config, stream)  # never raises: a crash fails the example
    LEDGER.bad_inputs["generated lines"] += len(generated)

    users = {
        (c.get("email") or "").lower(): c
        for c in ctl.dump()["contacts"]["contacts"]
        if c["role"] == "user"
    }
    assert users["first@example.com"]["name"] == "First"
    assert users["last@example.com"]["name"] == "Last ✓"
    assert out.last_state == {"done": True}
    # One outcome per line that is not a valid SCHEMA or STATE: nothing silently dropped.
    assert outcomes(target.summary()) == len(generated) + len(good)
    rejects = read_rejects(Path(config["rejects_file"]), target.run_id)
    assert len(rejects) == target.tally.rejected
    for row in rejects:
        assert isinstance(row["reason"], str) and row["reason"].strip()
        assert row["record"] is not None or row.get("line") is not None or "record" in row
    # Every "late" record came before its SCHEMA and "orders" is not a stream the target
    # writes: they are rejected, each with its reason.
    for n, line in enumerate(stream, start=1):
        if (
            isinstance(line, dict)
            and line.get("type") == "RECORD"
            and line.get("stream") in ("orders", "late")
        ):
            assert any(r["line_number"] == n for r in rejects), f"line {n} not rejected"


def test_a_record_with_a_lone_surrogate_is_rejected_not_a_crash(
    sandbox: RunningSandbox, ctl: Ctl, tmp_path: Path
) -> None:
    """JSON may escape a lone UTF-16 surrogate ("\\ud800"), which UTF-8 cannot carry."""
    text = [
        json.dumps(USERS_SCHEMA),
        '{"type": "RECORD", "stream": "users", "record": {"email": "s@example.com", '
        '"name": "bad \\ud800 half"}}',
        json.dumps(record_line({"email": "ok@example.com", "name": "OK"})),
        json.dumps({"type": "STATE", "value": {"n": 2}}),
    ]
    config = {
        "access_token": CANARY,
        "api_url": sandbox.base_url,
        "rejects_file": str(tmp_path / "rejects.jsonl"),
    }
    target, out = run_target(config, text)
    LEDGER.bad_inputs["lone surrogate"] += 1
    emails = {c.get("email") for c in ctl.dump()["contacts"]["contacts"]}
    assert "ok@example.com" in emails
    assert out.last_state == {"n": 2}
    assert target.tally.rejected == 1
