"""The official Intercom 2.16 OpenAPI description, read from ../shared (never copied here).

``SpecChecker.errors(operation_id, status, body)`` validates a response body against the
schema the spec gives for that operation and status (OpenAPI 3.0 rules: ``nullable`` ...).
A status the spec does not document for an operation (409 on CreateContact, 429, 5xx ...)
is checked against the spec's generic ``error`` schema, as Intercom's docs describe.
"""

from __future__ import annotations

import threading
from functools import cache
from pathlib import Path
from typing import Any

import orjson

SPEC_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared/intercom-openapi/2.16/api.intercom.io.yaml"
)
SPEC_URI = "urn:intercom-openapi:2.16"


# Where Intercom's documented behaviour and its 2.16 response schema disagree, the sandbox
# follows the behaviour; each case is listed here with the schema it answers with instead.
KNOWN_DEVIATIONS: dict[tuple[str, int], tuple[str, str]] = {
    ("retrieveCompany", 200): (
        "#/components/schemas/company",
        "a lookup by company_id or name answers one `company` (python-intercom's "
        "CompaniesRetrieveResponse is a union of company and company.list)",
    ),
    ("lisDataEvents", 200): (
        "#/components/schemas/data_event_list",
        "GET /events answers `event.list`; the summary shape only with summary=true",
    ),
}


def spec_available() -> bool:
    return SPEC_PATH.is_file()


@cache
def load_spec() -> dict[str, Any]:
    import yaml

    with SPEC_PATH.open("rb") as f:
        return yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class SpecChecker:
    def __init__(self) -> None:
        from openapi_schema_validator import OAS30Validator
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT4

        self.spec = load_spec()
        self._registry = Registry().with_resource(
            SPEC_URI, Resource(contents=self.spec, specification=DRAFT4)
        )
        self._validator_cls = OAS30Validator
        self._ops: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for path, item in self.spec["paths"].items():
            for method, op in item.items():
                if isinstance(op, dict) and "operationId" in op:
                    self._ops[op["operationId"]] = (path, method, op)
        self._validators: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def has_operation(self, operation_id: str) -> bool:
        return operation_id in self._ops

    def _validator(self, operation_id: str, status: int) -> tuple[Any, str]:
        """(validator or None for 'no body', where the schema came from)."""
        path, method, op = self._ops[operation_id]
        responses = op.get("responses", {})
        key = str(status)
        if key in responses:
            resp = responses[key]
            if "$ref" in resp:
                ref = resp["$ref"].lstrip("#/").split("/")
                resp = self.spec
                for part in ref:
                    resp = resp[part]
            content = (resp.get("content") or {}).get("application/json")
            if not content or "schema" not in content:
                return None, f"{operation_id} {status}: documented without a body"
            pointer = "#/" + _pointer(
                "paths", path, method, "responses", key, "content", "application/json", "schema"
            )
            where = f"{operation_id} {status}"
        elif status >= 400:
            pointer = "#/components/schemas/error"
            where = f"{operation_id} {status} (generic error schema)"
        else:
            raise AssertionError(
                f"{operation_id} answered {status}, a success status the spec does not document"
            )
        cache_key = (operation_id, key if key in responses else "error")
        with self._lock:
            validator = self._validators.get(cache_key)
            if validator is None:
                validator = self._validator_cls(
                    {"$ref": SPEC_URI + pointer}, registry=self._registry
                )
                self._validators[cache_key] = validator
        return validator, where

    def _validator_for_pointer(self, pointer: str) -> Any:
        with self._lock:
            validator = self._validators.get(("pointer", pointer))
            if validator is None:
                validator = self._validator_cls(
                    {"$ref": SPEC_URI + pointer}, registry=self._registry
                )
                self._validators[("pointer", pointer)] = validator
        return validator

    def errors(self, operation_id: str, status: int, payload: bytes) -> list[str]:
        """Messages for every way ``payload`` breaks the spec (empty list: conforms)."""
        if not self.has_operation(operation_id):
            return [f"{operation_id} is not an operation of the 2.16 spec"]
        validator, where = self._validator(operation_id, status)
        if validator is None:
            return [] if not payload else [f"{where}: expected no body, got {payload[:200]!r}"]
        if not payload:
            return [f"{where}: expected a JSON body, got none"]
        body = orjson.loads(payload)
        alternative = KNOWN_DEVIATIONS.get((operation_id, status))
        if alternative is not None and validator.is_valid(body) is False:
            alt = self._validator_for_pointer(alternative[0])
            if alt.is_valid(body):
                return []
        out = []
        for err in validator.iter_errors(body):
            loc = "/".join(str(p) for p in err.absolute_path)
            out.append(f"{where}: at /{loc}: {err.message[:300]}")
            if len(out) >= 5:
                break
        return out


@cache
def checker() -> SpecChecker:
    return SpecChecker()
