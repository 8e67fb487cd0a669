"""Custom attribute types: which columns are dates, and values converted to the type
Intercom holds.

Intercom stores date attributes as unix seconds (FACTS.md §8) and refuses a value of another
type than the attribute's (FACTS.md §2.2). So a column is sent in the type of its attribute:

- an attribute that exists has its data type (``GET /data_attributes``), whatever the input;
- an attribute created by the target (``create_custom_attributes``) is a *date* when the
  stream's schema types the column ``format: date-time`` or ``date``, or when its name ends
  ``_at`` or ``_date`` (Intercom's own naming: ``signed_up_at``, ``*_date`` event metadata,
  FACTS.md §4, §8) and its value reads as a timestamp; else the type of its first value.

Dates are sent as unix seconds, so a re-run compares unix with unix and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from target_intercom.mapping import reads_as_timestamp, to_bool, to_unix
from target_intercom.outcomes import RecordRejected

DATE_FORMATS = frozenset({"date-time", "date"})
DATE_SUFFIXES = ("_at", "_date")


def _is_date_property(prop: Any) -> bool:
    if not isinstance(prop, Mapping):
        return False
    if prop.get("format") in DATE_FORMATS:
        return True
    return any(_is_date_property(p) for p in prop.get("anyOf") or prop.get("oneOf") or ())


def schema_date_columns(schema: Mapping[str, Any]) -> frozenset[str]:
    """Columns the stream's schema types as date-time or date (top level, and inside a
    ``custom_attributes`` object)."""
    props = schema.get("properties") or {}
    out = {name for name, prop in props.items() if _is_date_property(prop)}
    nested = (props.get("custom_attributes") or {}).get("properties") or {}
    out |= {name for name, prop in nested.items() if _is_date_property(prop)}
    return frozenset(out)


def infer_type(name: str, value: Any, schema_dates: frozenset[str]) -> str:
    """The data type of an attribute the target creates for ``name`` (see module doc)."""
    if name in schema_dates:
        return "date"
    if name.endswith(DATE_SUFFIXES) and reads_as_timestamp(value):
        return "date"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, (float, Decimal)):
        return "float"
    return "string"


def convert(name: str, value: Any, data_type: str | None, model: str) -> Any:
    """``value`` in the type of the attribute (None: unknown type, sent as it is)."""
    if value is None or data_type is None:
        return value
    where = f"custom attribute {name}"
    kind = f"an {data_type}" if data_type[0] in "aeiou" else f"a {data_type}"
    try:
        if data_type in ("date", "datetime"):
            return to_unix(value, where)
        if data_type == "boolean":
            return to_bool(value, where)
        if data_type == "integer":
            if isinstance(value, bool):
                raise ValueError
            number = Decimal(str(value).strip())
            if number != number.to_integral_value():
                raise ValueError
            return int(number)
        if data_type == "float":
            if isinstance(value, bool):
                raise ValueError
            number = Decimal(str(value).strip())
            return int(number) if number == number.to_integral_value() else float(number)
    except RecordRejected as e:
        raise RecordRejected(
            f"{e.reason} ({name} is {kind} {model} attribute in Intercom): fix the value "
            "or map the column to another attribute",
            code="attribute_type",
        ) from None
    except (ArithmeticError, ValueError):
        raise RecordRejected(
            f"{where}={value!r} is not a valid {data_type}: {name} is {kind} {model} "
            "attribute in Intercom; fix the value or map the column to another attribute",
            code="attribute_type",
        ) from None
    if (
        data_type == "string"
        and isinstance(value, (int, float, Decimal))
        and not isinstance(value, bool)
    ):
        return str(value)
    return value
