"""The sandbox's own speed and size: it must never be what limits a tap or target benchmark.

Prints: seed time and memory for N contacts + M conversations; for a walk of 150-contact
search pages (the tap's query: role = user AND updated_at > X, sorted ascending) the server
CPU per page and the pages per second one keep-alive client gets; the same for GET /contacts
list pages and single GETs. Targets (issue): <= 5 ms server CPU per page, >= 300 pages/s,
100k contacts + 20k conversations in <= 500 MB.

    python benchmarks/bench_sandbox.py            # 100k contacts, 20k conversations
    python benchmarks/bench_sandbox.py --small    # 10k / 2k, for a quick look
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
from pathlib import Path

import orjson
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import proc_cpu_seconds, proc_memory_mb, start_sandbox


def walk_search(session: requests.Session, base: str, body: dict, max_pages: int) -> int:
    pages = 0
    cursor = None
    while pages < max_pages:
        page_body = dict(body)
        paging: dict = {"per_page": 150}
        if cursor:
            paging["starting_after"] = cursor
        page_body["pagination"] = paging
        r = session.post(f"{base}/contacts/search", json=page_body, timeout=60)
        r.raise_for_status()
        data = orjson.loads(r.content)
        pages += 1
        nxt = (data.get("pages") or {}).get("next")
        if not nxt:
            break
        cursor = nxt["starting_after"]
    return pages


def walk_list(session: requests.Session, base: str, max_pages: int) -> int:
    pages = 0
    params: dict = {"per_page": 150}
    while pages < max_pages:
        r = session.get(f"{base}/contacts", params=params, timeout=60)
        r.raise_for_status()
        data = orjson.loads(r.content)
        pages += 1
        nxt = (data.get("pages") or {}).get("next")
        if not nxt:
            break
        params = {"per_page": 150, "starting_after": nxt["starting_after"]}
    return pages


def walk_search_raw(base: str, token: str, body: dict, max_pages: int) -> int:
    """The same walk from a lean client (http.client, orjson): what the sandbox can serve
    when the client's own overhead is small."""
    host, port = base.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    pages, cursor = 0, None
    while pages < max_pages:
        paging: dict = {"per_page": 150}
        if cursor:
            paging["starting_after"] = cursor
        conn.request(
            "POST", "/contacts/search", orjson.dumps({**body, "pagination": paging}), headers
        )
        data = orjson.loads(conn.getresponse().read())
        pages += 1
        nxt = (data.get("pages") or {}).get("next")
        if not nxt:
            break
        cursor = nxt["starting_after"]
    conn.close()
    return pages


def measure(label: str, pid: int, fn) -> None:
    cpu0, t0 = proc_cpu_seconds(pid), time.perf_counter()
    n = fn()
    wall, cpu = time.perf_counter() - t0, proc_cpu_seconds(pid) - cpu0
    print(
        f"{label:<34} {n:>6} requests  {n / wall:>8.0f} req/s  "
        f"server CPU {1000 * cpu / max(n, 1):>6.2f} ms/request"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--small", action="store_true", help="10k contacts / 2k conversations")
    ap.add_argument("--pages", type=int, default=300, help="pages per walk")
    args = ap.parse_args()
    users, leads, convs = (8_000, 2_000, 2_000) if args.small else (80_000, 20_000, 20_000)

    t0 = time.perf_counter()
    sbx = start_sandbox()
    try:
        base = sbx.base_url
        rss0, _ = proc_memory_mb(sbx.pid)
        created = sbx.control(
            "POST",
            "seed",
            json={"users": users, "leads": leads, "companies": 500, "conversations": convs},
        )["created"]
        seed_s = time.perf_counter() - t0
        rss, hwm = proc_memory_mb(sbx.pid)
        print(f"seeded {created} in {seed_s:.1f} s")
        print(f"sandbox memory: {rss:.0f} MB resident (peak {hwm:.0f} MB; empty {rss0:.0f} MB)")

        s = requests.Session()
        s.headers.update({"Authorization": f"Bearer {sbx.token}", "Intercom-Version": "2.16"})
        query = {
            "query": {
                "operator": "AND",
                "value": [
                    {"field": "role", "operator": "=", "value": "user"},
                    {"field": "updated_at", "operator": ">", "value": 0},
                ],
            },
            "sort": {"field": "updated_at", "order": "ascending"},
        }
        # First page alone: it pays for building the cached match list.
        measure("search, first page (cold)", sbx.pid, lambda: walk_search(s, base, query, 1))
        measure("search walk, 150/page", sbx.pid, lambda: walk_search(s, base, query, args.pages))
        measure(
            "search walk, lean client",
            sbx.pid,
            lambda: walk_search_raw(base, sbx.token, query, args.pages),
        )
        measure("list walk, 150/page", sbx.pid, lambda: walk_list(s, base, args.pages))
        ids = [c["id"] for c in s.get(f"{base}/contacts", params={"per_page": 150}).json()["data"]]

        def gets() -> int:
            for cid in ids * 3:
                s.get(f"{base}/contacts/{cid}", timeout=10).raise_for_status()
            return len(ids) * 3

        measure("GET /contacts/{id}", sbx.pid, gets)
        rss, hwm = proc_memory_mb(sbx.pid)
        print(f"sandbox memory after the walks: {rss:.0f} MB resident (peak {hwm:.0f} MB)")
    finally:
        sbx.stop()


if __name__ == "__main__":
    main()
