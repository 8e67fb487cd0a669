"""Singer BATCH messages: the records of singer-sdk batch files land like RECORD lines.

Issue 13: each BATCH line went to the rejects file while the run went on and STATE moved
forward, so a tap in batch mode lost every record. The files here are written by
singer-sdk's own JSON-lines batch encoder (gzip, ``file://`` manifest URIs).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from singer_sdk.contrib.batch_encoder_jsonl import JSONLinesBatcher
from singer_sdk.helpers._batch import (
    BaseBatchFileEncoding,
    BatchConfig,
    SDKBatchMessage,
    StorageTarget,
)
from target_helpers import TOKEN, run_target, schema_message, singer

from intercom_sandbox.server import RunningSandbox, start

USERS_SCHEMA = schema_message(
    "users",
    ["email"],
    {
        "email": {"type": ["string", "null"]},
        "name": {"type": ["string", "null"]},
        "score": {"type": ["number", "null"]},
    },
)
RECORDS = [
    {"email": "a@example.com", "name": "A", "score": 1.5},
    {"email": "b@example.com", "name": "B"},
    {"email": "not-an-email", "name": "Bad"},  # rejected either way
    {"email": "A@example.com", "name": "A again"},  # the same user, later
    {"email": "c@example.com", "name": "C"},
]
STATE = {"type": "STATE", "value": {"bookmarks": {"users": 5}}}


def batch_messages(tmp: Path, records: list[dict[str, Any]], size: int = 2) -> list[dict]:
    """BATCH messages as a singer-sdk tap in batch mode writes them."""
    encoding = BaseBatchFileEncoding(format="jsonl", compression="gzip")
    config = BatchConfig(
        encoding=encoding, storage=StorageTarget(root=tmp.as_uri()), batch_size=size
    )
    batcher = JSONLinesBatcher("tap-test", "users", config)
    out = []
    for manifest in batcher.get_batches(iter(records)):
        message = SDKBatchMessage(stream="users", encoding=encoding, manifest=manifest).to_dict()
        out.append(json.loads(json.dumps(message, default=str)))
    return out


@pytest.fixture
def second_sandbox() -> Iterator[RunningSandbox]:
    sbx = start(tokens=[TOKEN], random_seed=1)
    try:
        yield sbx
    finally:
        sbx.stop()


def landed(sandbox: RunningSandbox) -> list[dict[str, Any]]:
    """The contacts, without what differs between two sandboxes (ids and times)."""
    keep = ("role", "email", "name", "custom_attributes")
    found = sandbox.backend.dump()["contacts"]["contacts"]
    return sorted(({k: c.get(k) for k in keep} for c in found), key=lambda c: c["email"])


def test_batch_records_land_like_record_lines(
    sandbox: RunningSandbox,
    second_sandbox: RunningSandbox,
    config: dict[str, Any],
    tmp_path: Path,
) -> None:
    as_lines = singer(
        USERS_SCHEMA, *({"type": "RECORD", "stream": "users", "record": r} for r in RECORDS), STATE
    )
    as_batches = singer(USERS_SCHEMA, *batch_messages(tmp_path, RECORDS), STATE)
    config = {**config, "create_custom_attributes": True}  # score: a float attribute
    other = {**config, "api_url": second_sandbox.base_url}
    other["rejects_file"] = str(tmp_path / "batch.rejects.jsonl")

    lines = run_target(config, as_lines)
    batches = run_target(other, as_batches)

    assert landed(second_sandbox) == landed(sandbox)
    assert len(landed(sandbox)) == 3
    assert landed(sandbox)[0]["custom_attributes"] == {"score": 1.5}
    assert (
        batches.outcomes("users")
        == lines.outcomes("users")
        == {
            "created": 3,
            "updated": 1,
            "rejected": 1,
        }
    )
    assert batches.states == lines.states == [STATE["value"]]
    [bad] = batches.rejects
    assert bad["record"] == {"email": "not-an-email", "name": "Bad"}
    assert bad["source"].startswith("file://") and bad["source"].endswith(".json.gz#1")
    assert "not a valid e-mail address" in bad["reason"]


def test_a_batch_file_row_that_is_not_json_is_kept_and_the_rest_land(
    sandbox: RunningSandbox, config: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"email": "x@example.com"}\n{oops\n{"email": "y@example.com"}\n')
    message = {
        "type": "BATCH",
        "stream": "users",
        "encoding": {"format": "jsonl", "compression": "none"},
        "manifest": [path.as_uri()],
    }
    run = run_target(config, singer(USERS_SCHEMA, message, STATE))

    assert run.outcomes("users") == {"created": 2, "rejected": 1}
    [bad] = run.rejects
    assert bad["line"] == "{oops" and bad["source"] == f"{path.as_uri()}#2"
    assert run.states == [STATE["value"]]


@pytest.mark.parametrize(
    ("encoding", "manifest", "reason"),
    [
        ({"format": "parquet"}, None, "format 'parquet' is not supported"),
        ({"format": "jsonl", "compression": "gzip"}, ["s3://bucket/x.json.gz"], "scheme 's3'"),
        ({"format": "jsonl", "compression": "gzip"}, ["file:///no/such/file.gz"], "does not exist"),
    ],
)
def test_an_unreadable_batch_message_is_rejected_with_the_fix(
    config: dict[str, Any],
    tmp_path: Path,
    encoding: dict[str, Any],
    manifest: list[str] | None,
    reason: str,
) -> None:
    real = tmp_path / "r.json.gz"
    with gzip.open(real, "wt") as fh:
        fh.write('{"email": "z@example.com"}\n')
    message = {
        "type": "BATCH",
        "stream": "users",
        "encoding": encoding,
        "manifest": manifest or [real.as_uri()],
    }
    run = run_target(config, singer(USERS_SCHEMA, message))

    [rejected] = run.rejects
    assert reason in rejected["reason"] and json.loads(rejected["line"])["type"] == "BATCH"
