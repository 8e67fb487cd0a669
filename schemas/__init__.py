"""JSON Schema files for every stream; read by the tap and the target alike.

One file per stream, except where streams share one object: ``users`` and ``leads`` are both
Intercom contacts (FACTS.md §2.1) and read ``contacts.json``. A field marked ``readOnly`` is
set by Intercom and never written by the target; the target reads that annotation rather
than keeping its own list (``target_intercom.mapping``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

# Streams whose schema is another file (several streams of one Intercom object).
SHARED: dict[str, str] = {"users": "contacts", "leads": "contacts"}


@cache
def _load(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """Return a fresh copy of the schema of stream ``name`` (``schemas/<file>.json``)."""
    return json.loads(_load(SHARED.get(name, name)))


def schema_names() -> list[str]:
    """Every stream that has a schema (a shared file counts once per stream reading it)."""
    files = {
        p.name[: -len(".json")]
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".json")
    }
    return sorted((files - set(SHARED.values())) | set(SHARED))
