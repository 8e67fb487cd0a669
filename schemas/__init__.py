"""JSON Schema files for every stream; read by the tap and the target alike."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def _load(name: str) -> str:
    return resources.files(__name__).joinpath(f"{name}.json").read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    """Return a fresh copy of the schema of stream ``name`` (``schemas/<name>.json``)."""
    return json.loads(_load(name))


def schema_names() -> list[str]:
    """Every stream that has a schema file."""
    return sorted(
        p.name[: -len(".json")]
        for p in resources.files(__name__).iterdir()
        if p.name.endswith(".json")
    )
