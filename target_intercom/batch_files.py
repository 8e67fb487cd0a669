"""Singer BATCH messages: the records of a tap's batch files, read like RECORD lines.

A tap in batch mode (singer-sdk ``batch_config``) writes its records to files and sends one
line per file set: ``{"type": "BATCH", "stream": ..., "encoding": {"format": "jsonl",
"compression": "gzip"}, "manifest": ["file:///.../x.json.gz", ...]}``. singer-sdk's own
encoder writes JSON lines, one record per line, gzip-compressed, on local ``file://`` URIs.
Each record read here goes through the target like a RECORD line of the same stream: stream
maps, validation, rejects (with the file and row), batching and the STATE rules.
"""

from __future__ import annotations

import gzip
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from singer_sdk.singerlib.json import deserialize_json

SUPPORTED = "format jsonl (compression gzip or none) on local file:// URIs"


class BatchMessageError(ValueError):
    """A BATCH message this target cannot read; the message names the fix."""


@dataclass
class BatchRow:
    """One line of a batch file: the record, or why it is not one."""

    source: str  # "<uri>#<row>"
    record: t.Any = None
    line: str | None = None  # the raw line, when it is not a JSON object
    error: str | None = None


def local_path(uri: str) -> Path:
    """A manifest entry (``file://`` URI, or a plain path) as a local path."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        if parsed.netloc not in ("", "localhost"):
            raise BatchMessageError(f"batch file {uri} is on host {parsed.netloc!r}: {SUPPORTED}")
        return Path(url2pathname(unquote(parsed.path)))
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:3] in (":\\", ":/")):
        return Path(uri)
    raise BatchMessageError(
        f"batch file {uri}: scheme {parsed.scheme!r} is not supported ({SUPPORTED}); point the "
        "tap's batch_config storage root at a local directory (file://...)"
    )


def check(message: dict[str, t.Any]) -> tuple[list[str], bool]:
    """The manifest and whether it is gzip-compressed; BatchMessageError when unreadable."""
    encoding = message.get("encoding")
    manifest = message.get("manifest")
    if not isinstance(encoding, dict) or not isinstance(manifest, list):
        raise BatchMessageError(
            "BATCH message without an 'encoding' object and a 'manifest' list of file URIs"
        )
    fmt = encoding.get("format")
    if fmt != "jsonl":
        raise BatchMessageError(
            f"BATCH format {fmt!r} is not supported ({SUPPORTED}): set the tap's batch_config "
            "encoding format to jsonl"
        )
    compression = encoding.get("compression")
    if compression not in (None, "none", "gzip"):
        raise BatchMessageError(f"BATCH compression {compression!r} is not supported ({SUPPORTED})")
    if not all(isinstance(u, str) for u in manifest):
        raise BatchMessageError("BATCH manifest entries must be file URIs (strings)")
    for uri in manifest:
        path = local_path(uri)
        if not path.is_file():
            raise BatchMessageError(
                f"batch file {uri} does not exist here: run the target where the tap wrote its "
                "batch files (or copy them), then replay this line"
            )
    return manifest, compression == "gzip"


def rows(message: dict[str, t.Any]) -> Iterator[BatchRow]:
    """Every row of every file of a BATCH message (``check`` it first)."""
    manifest, gz = check(message)
    for uri in manifest:
        path = local_path(uri)
        with gzip.open(path, "rt", encoding="utf-8") if gz else path.open(encoding="utf-8") as fh:
            for n, text in enumerate(fh, start=1):
                if not text.strip():
                    continue
                source = f"{uri}#{n}"
                try:
                    record = deserialize_json(text)  # as the line reader does
                except ValueError as e:
                    yield BatchRow(source, line=text.rstrip("\r\n"), error=f"not valid JSON ({e})")
                    continue
                if not isinstance(record, dict):
                    yield BatchRow(source, line=text.rstrip("\r\n"), error="not a JSON object")
                    continue
                yield BatchRow(source, record=record)
