"""The sandbox under abuse: garbage, huge and malformed requests always get an Intercom-style
error (FACTS.md §6: ``{"type": "error.list", "errors": [{"code": ...}]}``), never a crash or a
hang, and the sandbox goes on serving. Every socket here has a timeout. It binds loopback by
default.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reliability_support import CANARY, D0, LEDGER

from intercom_sandbox.cli import build_parser
from intercom_sandbox.server import MAX_BODY_BYTES, RunningSandbox, start

TIMEOUT = 10.0  # seconds any socket here waits
pytestmark = pytest.mark.no_spec_check
# Raw requests carry no token: framing and size are checked before authentication.
HEADERS = "Accept: application/json\r\n"


@pytest.fixture(scope="module")
def box() -> Iterator[RunningSandbox]:
    """One sandbox for the module. Failures a request handler lets escape reach the server's
    ``handle_error`` (socketserver prints them): they are collected, and at the end they may
    only be failures to answer a client that already hung up."""
    sbx = start(tokens=[CANARY], random_seed=2, clock_start=D0)
    escaped: list[BaseException | None] = []

    def handle_error(request: Any, client_address: Any) -> None:
        escaped.append(sys.exc_info()[1])

    sbx.httpd.handle_error = handle_error  # type: ignore[method-assign]
    try:
        yield sbx
    finally:
        sbx.stop()
    assert all(isinstance(e, ConnectionError) for e in escaped), escaped


@pytest.fixture(scope="module")
def http(box: RunningSandbox) -> Iterator[requests.Session]:
    s = requests.Session()
    s.headers.update({"Authorization": f"Bearer {CANARY}", "Accept": "application/json"})
    try:
        yield s
    finally:
        s.close()


def alive(box: RunningSandbox) -> None:
    """The sandbox still answers a normal request."""
    r = requests.get(
        f"{box.base_url}/me", headers={"Authorization": f"Bearer {CANARY}"}, timeout=TIMEOUT
    )
    assert r.status_code == 200, r.text


def intercom_error(body: bytes | str) -> dict[str, Any]:
    """The body parsed as Intercom's error envelope (or the assertion says what it was)."""
    try:
        data = json.loads(body)
    except ValueError:
        raise AssertionError(f"not a JSON error body: {body[:300]!r}") from None
    assert isinstance(data, dict) and data.get("type") == "error.list", data
    assert data["errors"] and data["errors"][0].get("code"), data
    return data


# -- raw sockets --------------------------------------------------------------------------------
def exchange(box: RunningSandbox, data: bytes) -> bytes:
    """Send bytes on a fresh connection (while reading, so a server that answers early and
    closes does not deadlock us) and return everything received until the server closes
    or goes quiet."""
    host, port = box.httpd.server_address[:2]
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    received: list[bytes] = []

    def read() -> None:
        try:
            while chunk := sock.recv(65536):
                received.append(chunk)
        except OSError:
            pass

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass  # the server answered and closed before taking all of it
    reader.join(TIMEOUT + 1)
    sock.close()
    assert not reader.is_alive(), "the sandbox neither answered nor closed the connection"
    return b"".join(received)


def responses(raw: bytes) -> list[tuple[int, bytes]]:
    """The HTTP responses in ``raw``: (status, body) each (Content-Length framed)."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status_line = head.split(b"\r\n", 1)[0]
        assert status_line.startswith(b"HTTP/1."), raw[:300]
        status = int(status_line.split()[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        out.append((status, rest[:length]))
        raw = rest[length:]
    return out


def one_error(box: RunningSandbox, data: bytes) -> tuple[int, dict[str, Any]]:
    got = responses(exchange(box, data))
    assert len(got) == 1, f"expected one response, got {[s for s, _ in got]}"
    status, body = got[0]
    LEDGER.bad_inputs["sandbox raw requests"] += 1
    return status, intercom_error(body)


def test_huge_body_is_refused_with_413_and_the_connection_closed(box: RunningSandbox) -> None:
    size = MAX_BODY_BYTES + 1024
    head = f"POST /contacts/search HTTP/1.1\r\nHost: x\r\n{HEADERS}Content-Length: {size}\r\n\r\n"
    status, body = one_error(box, head.encode() + b"{" + b" " * (size - 1))
    assert status == 413
    assert body["errors"][0]["code"] == "request_too_large"
    alive(box)


def test_huge_chunked_body_is_refused_with_413_and_nothing_else(box: RunningSandbox) -> None:
    step = 1 << 20
    chunks = b"".join(b"%x\r\n" % step + b" " * step + b"\r\n" for _ in range(9)) + b"0\r\n\r\n"
    head = (
        f"POST /contacts/search HTTP/1.1\r\nHost: x\r\n{HEADERS}Transfer-Encoding: chunked\r\n\r\n"
    )
    status, _ = one_error(box, head.encode() + chunks)
    assert status == 413
    alive(box)


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"GARBAGE\r\n\r\n", id="not http"),
        pytest.param(b"\x00\xff\xfe\x80 garbage\r\n\r\n", id="binary"),
        pytest.param(b"BREW /contacts HTTP/1.1\r\nHost: x\r\n\r\n", id="unknown method"),
        pytest.param(b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", id="huge request line"),
    ],
)
def test_raw_socket_garbage_gets_an_intercom_error(
    box: RunningSandbox, request_bytes: bytes
) -> None:
    status, _ = one_error(box, request_bytes)
    assert status >= 400
    alive(box)


def test_raw_socket_garbage_never_stops_the_sandbox(box: RunningSandbox) -> None:
    """Whatever the body of the answer, the sandbox answers or closes, and goes on."""
    for data in (
        b"GARBAGE\r\n\r\n",
        b"\x00\xff\xfe\x80 garbage\r\n\r\n",
        b"BREW /contacts HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n",
        b"GET /me HTTP/1.1\r\n" + b"X: y\r\n" * 200 + b"\r\n",
        b"\r\n" * 1000,
        bytes(range(256)) * 64,
    ):
        exchange(box, data)  # an answer (of any form) or a close, within the timeout
        LEDGER.bad_inputs["sandbox raw requests"] += 1
        alive(box)


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Content-Length: abc", id="content-length not a number"),
        pytest.param("Transfer-Encoding: chunked", id="chunk size not hex"),
    ],
)
def test_malformed_framing_is_a_400(box: RunningSandbox, header: str) -> None:
    body = b"zz\r\nabc\r\n0\r\n\r\n" if "chunked" in header else b""
    head = f"POST /contacts/search HTTP/1.1\r\nHost: x\r\n{HEADERS}{header}\r\n\r\n"
    status, _ = one_error(box, head.encode() + body)
    assert status == 400
    alive(box)


def test_a_stalled_client_does_not_block_others(box: RunningSandbox) -> None:
    host, port = box.httpd.server_address[:2]
    stalled = [socket.create_connection((host, port), timeout=TIMEOUT) for _ in range(3)]
    try:
        stalled[0].sendall(b"POST /contacts HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        stalled[1].sendall(b"GET /me HTTP/1.1\r\nHost: x\r\n")  # headers never end
        for _ in range(5):
            alive(box)
    finally:
        for sock in stalled:
            sock.close()
    LEDGER.bad_inputs["sandbox raw requests"] += 3


# -- HTTP requests with bad content ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        pytest.param("POST", "/contacts", b"{", 400, id="bad json"),
        pytest.param("POST", "/contacts", b'{"email": "\xff\xfe"}', 400, id="invalid utf-8"),
        pytest.param("POST", "/contacts/search", b"[]", 400, id="not an object"),
        pytest.param("POST", "/contacts/search", b"[" * 100_000, 400, id="deep json"),
        pytest.param("PUT", "/contacts/nope", b"\x00\x01\x02", 400, id="binary body"),
        pytest.param("PATCH", "/contacts", b"{}", 404, id="wrong method"),
        pytest.param("DELETE", "/me", b"", 404, id="delete me"),
        pytest.param("GET", "/contacts/%ff%fe", b"", 404, id="invalid utf-8 in path"),
        pytest.param("GET", "/no/such/path", b"", 404, id="unknown path"),
    ],
)
def test_bad_requests_get_intercom_errors(
    box: RunningSandbox, http: requests.Session, method: str, path: str, body: bytes, status: int
) -> None:
    r = http.request(method, f"{box.base_url}{path}", data=body, timeout=TIMEOUT)
    LEDGER.bad_inputs["sandbox requests"] += 1
    assert r.status_code == status, r.text[:300]
    intercom_error(r.content)
    alive(box)


def nested(depth: int) -> bytes:
    """A search body whose query nests ``depth`` AND groups (as text: too deep for json)."""
    leaf = '{"field": "email", "operator": "=", "value": "a@example.com"}'
    query = '{"operator": "AND", "value": [' * depth + leaf + "]}" * depth
    return f'{{"query": {query}}}'.encode()


@pytest.mark.parametrize("depth", [3, 50, 900])
def test_deeply_nested_search_queries_are_refused(
    box: RunningSandbox, http: requests.Session, depth: int
) -> None:
    for path in ("/contacts/search", "/conversations/search"):
        r = http.post(f"{box.base_url}{path}", data=nested(depth), timeout=TIMEOUT)
        LEDGER.bad_inputs["sandbox requests"] += 1
        assert r.status_code == 400, r.text[:300]
        intercom_error(r.content)
    alive(box)


def test_a_search_group_with_too_many_filters_is_refused(
    box: RunningSandbox, http: requests.Session
) -> None:
    items = [{"field": "email", "operator": "=", "value": f"{i}@x.com"} for i in range(5000)]
    r = http.post(
        f"{box.base_url}/contacts/search",
        json={"query": {"operator": "OR", "value": items}},
        timeout=TIMEOUT,
    )
    LEDGER.bad_inputs["sandbox requests"] += 1
    assert r.status_code == 400
    intercom_error(r.content)


# -- generated bodies ---------------------------------------------------------------------------
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
search_like = st.fixed_dictionaries(
    {},
    optional={
        "query": json_values,
        "pagination": st.fixed_dictionaries(
            {}, optional={"per_page": json_values, "starting_after": json_values}
        ),
        "sort": st.fixed_dictionaries({}, optional={"field": json_values, "order": json_values}),
    },
)
contact_like = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in ("role", "email", "external_id", "name", "custom_attributes", "signed_up_at")
    },
)
ENDPOINTS = [
    ("POST", "/contacts/search", search_like),
    ("POST", "/conversations/search", search_like),
    ("POST", "/tickets/search", search_like),
    ("POST", "/contacts", contact_like),
    ("PUT", "/contacts/{contact}", contact_like),
    ("POST", "/companies", json_values),
    ("POST", "/events", json_values),
    ("POST", "/tags", json_values),
    ("POST", "/data_attributes", json_values),
    ("POST", "/contacts/merge", json_values),
    ("POST", "/companies/list", json_values),
]
bodies = st.one_of(
    st.binary(max_size=200).map(lambda b: ("raw", b)),
    st.sampled_from(ENDPOINTS).flatmap(lambda e: e[2]).map(lambda v: ("json", v)),
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(endpoint=st.sampled_from(ENDPOINTS), body=bodies)
def test_generated_bodies_never_get_a_500(
    box: RunningSandbox,
    http: requests.Session,
    endpoint: tuple[str, str, Any],
    body: tuple[str, Any],
) -> None:
    method, template, _ = endpoint
    path = template.replace("{contact}", "0" * 24)
    kind, value = body
    data = value if kind == "raw" else json.dumps(value).encode()
    r = http.request(
        method,
        f"{box.base_url}{path}",
        data=data,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    LEDGER.bad_inputs["sandbox generated bodies"] += 1
    assert r.status_code < 500, f"{method} {path} {data[:200]!r} -> {r.status_code} {r.text}"
    if r.status_code >= 400:
        intercom_error(r.content)
    elif r.content:
        json.loads(r.content)


# -- where it listens ---------------------------------------------------------------------------
def test_binds_loopback_by_default() -> None:
    assert build_parser().parse_args([]).host == "127.0.0.1"
    sbx = start(tokens=[CANARY])
    try:
        assert sbx.httpd.server_address[0] == "127.0.0.1"
    finally:
        sbx.stop()
    proc = subprocess.Popen(
        [sys.executable, "-m", "intercom_sandbox", "--port", "0", "--token", CANARY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("http://127.0.0.1:"), line
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=TIMEOUT)
    LEDGER.scan("subprocess stderr", "intercom-sandbox", err)
    assert proc.returncode == 0
