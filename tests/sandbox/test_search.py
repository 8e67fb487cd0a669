"""The search DSL (intercom_sandbox/search.py), unit tests on plain dicts: operators, limits,
day-granular dates, cursors, caches, lag (FACTS.md §2.6 and §3). Over HTTP: test_search_http.py.
"""

from __future__ import annotations

import calendar
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intercom_sandbox import exceptions as exc
from intercom_sandbox.search import (
    LaggedIndex,
    SearchCache,
    SearchSpec,
    pages,
    parse_search,
    run_search,
)

DAY = 86_400
# 2024-03-05 00:00:00 UTC
D0 = calendar.timegm((2024, 3, 5, 0, 0, 0))

CONTACTISH = SearchSpec(
    fields={
        "id": "string",
        "role": "string",
        "email": "string",
        "name": "string",
        "updated_at": "date",
        "score": "integer",
        "vip": "boolean",
        "tag_id": "tag",
        "location.city": "string",
        "body": "text",
    },
    day_granular_dates=True,
    default_per_page=50,
    dates_inclusive=False,
    list_key="data",
    accessors={"tag_id": lambda d: d.get("tags") or ()},
    case_insensitive=frozenset(["email"]),
)
CONVERSATIONISH = SearchSpec(
    fields={"id": "string", "updated_at": "date", "contact_ids": "string", "open": "boolean"},
    day_granular_dates=False,
    default_per_page=20,
    dates_inclusive=True,
    list_key="conversations",
)


def q(field: str, op: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": op, "value": value}


def ids(
    spec: SearchSpec, docs: list[dict[str, Any]], query: dict[str, Any], **body: Any
) -> list[str]:
    parsed = parse_search({"query": query, **body}, spec)
    page, _, _ = run_search(parsed, docs, spec)
    return [d["id"] for d in page]


# -- dates ------------------------------------------------------------------------------------


DATED = [
    {"id": "a", "updated_at": D0 - 1},  # 2024-03-04 23:59:59
    {"id": "b", "updated_at": D0 + 9 * 3600},  # 2024-03-05 09:00
    {"id": "c", "updated_at": D0 + 15 * 3600},  # 2024-03-05 15:00, later the same day
    {"id": "d", "updated_at": D0 + DAY},  # 2024-03-06 00:00
    {"id": "e"},  # no value
]


def test_contact_dates_match_by_utc_calendar_day() -> None:
    x = D0 + 9 * 3600  # 09:00 on the 5th
    # `>` starts at the next day: the 15:00 update of the same day is NOT matched.
    assert ids(CONTACTISH, DATED, q("updated_at", ">", x)) == ["d"]
    # `=` matches the whole day of X, both before and after the instant X.
    assert sorted(ids(CONTACTISH, DATED, q("updated_at", "=", x))) == ["b", "c"]
    # `<` ends before the start of X's day.
    assert ids(CONTACTISH, DATED, q("updated_at", "<", x)) == ["a"]


def test_conversation_dates_are_second_precise_and_inclusive() -> None:
    docs = [{"id": d["id"], "updated_at": d.get("updated_at")} for d in DATED]
    x = D0 + 9 * 3600
    assert sorted(ids(CONVERSATIONISH, docs, q("updated_at", ">", x))) == ["b", "c", "d"]
    assert sorted(ids(CONVERSATIONISH, docs, q("updated_at", "<", x))) == ["a", "b"]
    assert ids(CONVERSATIONISH, docs, q("updated_at", "=", x)) == ["b"]
    assert sorted(ids(CONVERSATIONISH, docs, q("updated_at", ">=", x + 1))) == ["c", "d"]


@pytest.mark.parametrize("op", ["!=", "<=", ">=", "IN", "NIN", "~"])
def test_day_granular_dates_reject_other_operators(op: str) -> None:
    value = [D0] if op in ("IN", "NIN") else D0
    with pytest.raises(exc.ParameterInvalid, match="updated_at"):
        parse_search({"query": q("updated_at", op, value)}, CONTACTISH)


def test_date_value_must_be_a_timestamp_but_numeric_strings_pass() -> None:
    with pytest.raises(exc.ParameterInvalid, match="updated_at"):
        parse_search({"query": q("updated_at", ">", "foobar")}, CONTACTISH)
    # The spec's own example sends the timestamp as a string [S16:8890].
    assert ids(CONTACTISH, DATED, q("updated_at", ">", str(D0))) == ["d"]


# -- operators and values ---------------------------------------------------------------------


PEOPLE = [
    {
        "id": "1",
        "role": "user",
        "email": "Ada@Example.com",
        "name": "Ada",
        "score": 5,
        "vip": True,
        "tags": ["t1"],
        "location": {"city": "Dublin"},
        "body": "I need support",
    },
    {
        "id": "2",
        "role": "lead",
        "email": "bob@example.org",
        "name": "Bob",
        "score": 9,
        "vip": False,
        "tags": [],
        "location": {"city": "Paris"},
    },
    {"id": "3", "role": "user", "name": None, "score": 7, "vip": False, "tags": ["t1", "t2"]},
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (q("email", "=", "ada@EXAMPLE.com"), ["1"]),  # e-mail equality ignores case
        (q("name", "=", "ada"), []),  # other strings are exact
        (q("name", "=", "Ada"), ["1"]),
        (q("name", "!=", "Ada"), ["2", "3"]),
        (q("name", "~", "o"), ["2"]),
        (q("name", "!~", "o"), ["1", "3"]),
        (q("email", "^", "bob"), ["2"]),
        (q("email", "$", ".com"), ["1"]),
        (q("role", "IN", ["lead", "admin"]), ["2"]),
        (q("role", "NIN", ["lead"]), ["1", "3"]),
        (q("score", ">", 5), ["2", "3"]),
        (q("score", ">=", 7), ["2", "3"]),
        (q("score", "<=", 7), ["1", "3"]),
        (q("vip", "=", True), ["1"]),
        (q("tag_id", "=", "t1"), ["1", "3"]),
        (q("tag_id", "!=", "t1"), ["2"]),
        (q("location.city", "=", "Paris"), ["2"]),
        (q("name", "=", None), ["3"]),  # null tests absence
        (q("email", "!=", None), ["1", "2"]),  # and != null presence
        (q("body", "=", "support"), ["1"]),  # text fields match a token
        (q("body", "=", "need support"), []),
        (
            {"operator": "OR", "value": [q("name", "=", "Bob"), q("score", "=", 7)]},
            ["2", "3"],
        ),
        (
            {
                "operator": "AND",
                "value": [
                    q("role", "=", "user"),
                    {"operator": "OR", "value": [q("vip", "=", True), q("score", ">", 6)]},
                ],
            },
            ["1", "3"],
        ),
    ],
)
def test_operators(query: dict[str, Any], expected: list[str]) -> None:
    assert ids(CONTACTISH, PEOPLE, query, sort={"field": "id", "order": "ascending"}) == expected


def test_list_valued_fields_match_any_element() -> None:
    docs = [{"id": "c1", "contact_ids": ["x", "y"]}, {"id": "c2", "contact_ids": ["z"]}]
    assert ids(CONVERSATIONISH, docs, q("contact_ids", "=", "y")) == ["c1"]
    assert ids(CONVERSATIONISH, docs, q("contact_ids", "!=", "y")) == ["c2"]
    assert ids(CONVERSATIONISH, docs, q("contact_ids", "IN", ["z", "q"])) == ["c2"]


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        (q("nope", "=", "x"), "nope"),  # unknown field
        (q("name", ">", "x"), "name"),  # wrong operator for a string
        (q("vip", "~", "x"), "vip"),  # wrong operator for a boolean
        (q("tag_id", "IN", ["t1"]), "tag_id"),  # tag_id: only = and !=
        (q("vip", "=", "yes"), "vip"),  # wrong value type
        (q("score", "=", "many"), "score"),
        (q("role", "IN", "user"), "role"),  # IN needs an array
        (q("role", "=", ["user"]), "role"),  # = needs a scalar
        (q("score", ">", None), "score"),  # null only with = / !=
        (q("role", "LIKE", "user"), "LIKE"),  # not an operator
        ({"operator": "XOR", "value": [q("role", "=", "user")]}, "XOR"),
        ({"operator": "AND", "value": []}, "AND"),
    ],
)
def test_invalid_queries_are_400_naming_the_problem(query: dict[str, Any], needle: str) -> None:
    with pytest.raises(exc.ParameterInvalid) as err:
        parse_search({"query": query}, CONTACTISH)
    assert err.value.status == 400 and err.value.code == "parameter_invalid"
    assert needle in err.value.message


def test_query_is_required() -> None:
    with pytest.raises(exc.IntercomError) as err:
        parse_search({"pagination": {"per_page": 5}}, CONTACTISH)
    assert err.value.status == 400 and "query" in err.value.message


# -- limits -----------------------------------------------------------------------------------


def test_nesting_limit_is_two_levels() -> None:
    leaf = q("role", "=", "user")
    two = {"operator": "AND", "value": [{"operator": "OR", "value": [leaf, leaf]}, leaf]}
    parse_search({"query": two}, CONTACTISH)  # (1 OR 2) AND 3: fine
    three = {
        "operator": "AND",
        "value": [{"operator": "OR", "value": [{"operator": "AND", "value": [leaf]}]}],
    }
    with pytest.raises(exc.ParameterInvalid, match="nested"):
        parse_search({"query": three}, CONTACTISH)


def test_fifteen_filters_per_group() -> None:
    leaf = q("score", ">", 0)
    parse_search({"query": {"operator": "OR", "value": [leaf] * 15}}, CONTACTISH)
    with pytest.raises(exc.ParameterInvalid, match="15"):
        parse_search({"query": {"operator": "OR", "value": [leaf] * 16}}, CONTACTISH)
    nested = {"operator": "AND", "value": [{"operator": "OR", "value": [leaf] * 16}]}
    with pytest.raises(exc.ParameterInvalid, match="15"):
        parse_search({"query": nested}, CONTACTISH)


def test_invalid_sort_order() -> None:
    with pytest.raises(exc.InvalidSortOrder) as err:
        parse_search(
            {"query": q("role", "=", "user"), "sort": {"field": "updated_at", "order": "desc"}},
            CONTACTISH,
        )
    assert err.value.code == "invalid_sort_order"
    assert err.value.message == "Invalid sort order 'desc'. Must be one of: ascending, descending"


def test_sort_defaults_to_descending() -> None:
    docs = [{"id": "a", "score": 1}, {"id": "b", "score": 3}, {"id": "c", "score": 2}]
    assert ids(CONTACTISH, docs, q("score", ">", 0), sort={"field": "score"}) == ["b", "c", "a"]


@pytest.mark.parametrize("per_page", [0, 151, "10", True])
def test_per_page_bounds(per_page: Any) -> None:
    with pytest.raises(exc.ParameterInvalid, match="per_page"):
        parse_search(
            {"query": q("role", "=", "u"), "pagination": {"per_page": per_page}}, CONTACTISH
        )


def test_per_page_default_and_max() -> None:
    assert parse_search({"query": q("role", "=", "u")}, CONTACTISH).per_page == 50
    assert parse_search({"query": q("id", "=", "u")}, CONVERSATIONISH).per_page == 20
    body = {"query": q("role", "=", "u"), "pagination": {"per_page": 150}}
    assert parse_search(body, CONTACTISH).per_page == 150


# -- paging -----------------------------------------------------------------------------------


def walk(
    spec: SearchSpec,
    docs: list[dict[str, Any]],
    body: dict[str, Any],
    *,
    cache: SearchCache | None = None,
    between_pages: Any = None,
) -> list[str]:
    seen: list[str] = []
    cursor = None
    version = 0
    for page_no in range(1, 10_000):
        pagination = dict(body.get("pagination", {}))
        if cursor:
            pagination["starting_after"] = cursor
        parsed = parse_search({**body, "pagination": pagination}, spec)
        assert parsed.page == page_no
        page, total, cursor = run_search(parsed, docs, spec, cache=cache, cache_key=version)
        info = pages(parsed, total, cursor)
        assert info["page"] == page_no
        assert ("next" in info) == (cursor is not None)
        seen.extend(d["id"] for d in page)
        if cursor is None:
            if between_pages is None:
                assert info["total_pages"] == page_no or total == 0
            return seen
        if between_pages:
            between_pages(page_no, docs)
            version += 1
    raise AssertionError("walk did not end")


def test_cursor_walk_covers_every_match_once_with_ties_and_missing_values() -> None:
    docs = [{"id": f"{i:03d}", "score": (i * 7) % 5 if i % 4 else None} for i in range(53)]
    for order in ("ascending", "descending"):
        body = {
            "query": q("id", "!=", "none"),
            "sort": {"field": "score", "order": order},
            "pagination": {"per_page": 6},
        }
        seen = walk(CONTACTISH, docs, body, cache=SearchCache())
        assert sorted(seen) == sorted(d["id"] for d in docs)
        assert len(seen) == len(set(seen))
        scores = [next(d["score"] for d in docs if d["id"] == i) for i in seen]
        present = [s for s in scores if s is not None]
        assert present == sorted(present, reverse=order == "descending")
        assert scores[len(present) :] == [None] * (len(scores) - len(present))  # missing last


def test_keyset_cursor_survives_writes_between_pages() -> None:
    docs = [{"id": f"{i:03d}", "score": i} for i in range(30)]
    original = {d["id"] for d in docs}

    def insert(page_no: int, docs: list[dict[str, Any]]) -> None:
        # A new document sorting before the cursor, and one after it.
        docs.append({"id": f"new-early-{page_no}", "score": -1})
        docs.append({"id": f"new-late-{page_no}", "score": 1000 + page_no})

    body = {
        "query": q("score", ">=", -5),
        "sort": {"field": "score", "order": "ascending"},
        "pagination": {"per_page": 4},
    }
    seen = walk(CONTACTISH, docs, body, cache=SearchCache(), between_pages=insert)
    assert len(seen) == len(set(seen))  # nothing served twice
    assert original <= set(seen)  # nothing that existed all along skipped
    assert not any(s.startswith("new-early") for s in seen)  # behind the cursor


def test_bad_cursors_are_client_errors() -> None:
    docs = [{"id": str(i), "score": i} for i in range(5)]
    body = {"query": q("score", ">", 0), "pagination": {"per_page": 2}}
    parsed = parse_search(body, CONTACTISH)
    _, _, cursor = run_search(parsed, docs, CONTACTISH)
    assert cursor
    other = {"query": q("score", ">", 1), "pagination": {"per_page": 2, "starting_after": cursor}}
    for bad in [other, {**body, "pagination": {"starting_after": "not-a-cursor!!"}}]:
        with pytest.raises(exc.ClientError) as err:
            parse_search(bad, CONTACTISH)
        assert err.value.message.startswith("Invalid starting_after param")


def test_cache_reuses_the_sorted_match_list_per_version() -> None:
    docs = [{"id": str(i), "score": i} for i in range(10)]
    cache = SearchCache()
    parsed = parse_search({"query": q("score", ">", 2)}, CONTACTISH)
    run_search(parsed, docs, CONTACTISH, cache=cache, cache_key=1)
    docs.append({"id": "99", "score": 99})
    _, total, _ = run_search(parsed, docs, CONTACTISH, cache=cache, cache_key=1)
    assert total == 7 and cache.hits == 1  # same version: the cached list
    _, total, _ = run_search(parsed, docs, CONTACTISH, cache=cache, cache_key=2)
    assert total == 8  # a new version recomputes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=st.lists(
        st.tuples(st.booleans(), st.integers(0, 12), st.one_of(st.none(), st.integers(0, 5))),
        max_size=40,
    ),
    order=st.sampled_from(["ascending", "descending"]),
)
def test_live_cache_stays_equal_to_a_fresh_search(
    ops: list[tuple[bool, int, int | None]], order: str
) -> None:
    cache = SearchCache()
    index = LaggedIndex(
        now=lambda: 0.0, lag=lambda: 0.0, alive=lambda _: True, on_change=cache.apply
    )
    body = {
        "query": {"operator": "OR", "value": [q("score", ">", 1), q("score", "=", None)]},
        "sort": {"field": "score", "order": order},
        "pagination": {"per_page": 150},
    }
    parsed = parse_search(body, CONTACTISH)
    run_search(parsed, index.docs(), CONTACTISH, cache=cache, cache_key="live")
    for put, n, score in ops:
        doc_id = f"{n:02d}"
        if put:
            index.put(doc_id, {"id": doc_id, "score": score})
        else:
            index.remove(doc_id)
    cached, total, _ = run_search(parsed, index.docs(), CONTACTISH, cache=cache, cache_key="live")
    assert cache.hits == 1  # served from the patched entry, not recomputed
    fresh, fresh_total, _ = run_search(parsed, index.docs(), CONTACTISH)
    assert [d["id"] for d in cached] == [d["id"] for d in fresh] and total == fresh_total


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scores=st.lists(st.one_of(st.none(), st.integers(0, 6)), max_size=40),
    per_page=st.integers(1, 9),
    order=st.sampled_from(["ascending", "descending"]),
    threshold=st.integers(-1, 6),
)
def test_walk_equals_filtered_sorted_list(
    scores: list[int | None], per_page: int, order: str, threshold: int
) -> None:
    docs = [{"id": f"{i:02d}", "score": s} for i, s in enumerate(scores)]
    body = {
        "query": {"operator": "OR", "value": [q("score", ">", threshold), q("score", "=", None)]},
        "sort": {"field": "score", "order": order},
        "pagination": {"per_page": per_page},
    }
    seen = walk(CONTACTISH, docs, body)
    matching = [d for d in docs if d["score"] is None or d["score"] > threshold]
    present = sorted(
        (d for d in matching if d["score"] is not None), key=lambda d: (d["score"], d["id"])
    )
    if order == "descending":
        present.reverse()
    missing = sorted((d for d in matching if d["score"] is None), key=lambda d: d["id"])
    assert seen == [d["id"] for d in present + missing]


# -- lag --------------------------------------------------------------------------------------


def test_lagged_index_serves_the_previous_version_until_the_lag_passes() -> None:
    now = [1000.0]
    lag = [30.0]
    alive = {"a", "b"}
    index = LaggedIndex(now=lambda: now[0], lag=lambda: lag[0], alive=lambda i: i in alive)
    v1, v2 = {"id": "a", "v": 1}, {"id": "a", "v": 2}
    index.put("a", v1, immediate=True)
    index.put("a", v2)
    assert index.get("a") is v1  # previous version until the lag passes
    index.put("b", {"id": "b"})
    assert index.get("b") is None  # a new document: nothing yet
    now[0] += 30
    assert index.get("a") is v2 and index.get("b") is not None
    index.put("a", {"id": "a", "v": 3})
    index.remove("a")  # removal is immediate and drops the pending version
    now[0] += 60
    assert index.get("a") is None
    # A pending older version never overwrites a newer immediate one.
    index.put("b", {"id": "b", "v": "old"})
    lag[0] = 0
    index.put("b", {"id": "b", "v": "new"})
    now[0] += 60
    assert index.get("b") == {"id": "b", "v": "new"}
