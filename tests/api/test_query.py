"""Search-query builder: shapes and Intercom's limits (2 nesting levels, 15 filters/group)."""

from __future__ import annotations

import pytest

from intercom_api import query as q


def test_filter_and_groups() -> None:
    f = q.filter("updated_at", ">", 10)
    assert f == {"field": "updated_at", "operator": ">", "value": 10}
    g = q.and_(f, q.filter("role", "=", "user"))
    assert g["operator"] == "AND" and len(g["value"]) == 2
    assert q.or_(f) is f  # a group of one is the item itself
    q.validate(q.and_(q.or_(f, f), q.or_(f, f)))  # (1 OR 2) AND (3 OR 4) is allowed


def test_unknown_operator_and_in_without_list() -> None:
    with pytest.raises(ValueError, match="unknown search operator"):
        q.filter("x", "==", 1)
    with pytest.raises(ValueError, match="takes a list"):
        q.filter("x", "IN", "a")


def test_nesting_limit() -> None:
    f = q.filter("a", "=", 1)
    deep = {"operator": "AND", "value": [{"operator": "OR", "value": [q.and_(f, f)]}]}
    with pytest.raises(ValueError, match="more than 2 levels"):
        q.validate(deep)


def test_fifteen_filters_per_group() -> None:
    q.validate(q.and_(*[q.filter("a", "=", i) for i in range(15)]))
    with pytest.raises(ValueError, match="at most 15"):
        q.validate(q.and_(*[q.filter("a", "=", i) for i in range(16)]))


def test_malformed_nodes() -> None:
    with pytest.raises(ValueError, match="malformed"):
        q.validate({"field": "a", "operator": "="})
    with pytest.raises(ValueError, match="non-empty list"):
        q.validate({"operator": "AND", "value": []})
    with pytest.raises(ValueError, match="must be an object"):
        q.validate([])


def test_in_chunks_dedupes_and_respects_size() -> None:
    values = [f"v{i}" for i in range(40)] + ["v0", "v1"]
    chunks = q.in_chunks("email", values, size=15)
    assert [len(c["value"]) for c in chunks] == [15, 15, 10]
    assert [v for c in chunks for v in c["value"]] == [f"v{i}" for i in range(40)]
    for c in chunks:
        assert c["operator"] == "IN"
        q.validate(c)
    assert q.in_chunks("email", []) == []
    with pytest.raises(ValueError):
        q.in_chunks("email", ["a"], size=0)
