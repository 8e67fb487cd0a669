"""What every sink of one run shares: the API client, the write threads, and run caches.

Caches live for the run, not the batch, so each costs at most one look-up per distinct
value: company references -> Intercom ids, tag names -> ids, known custom data attributes,
and the contacts this run wrote (search lags writes by minutes, FACTS.md §2.6, so a contact
written in batch 1 is found here, not by searching, in batch 2).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, TypeVar

from intercom_api import ClientSettings, IntercomClient
from intercom_api import errors as api_errors
from intercom_api import query as q
from target_intercom.outcomes import RecordRejected
from target_intercom.settings import TargetOptions

T = TypeVar("T")
_HEX_ID = re.compile(r"^[0-9a-f]{24}$")
MEMO_SIZE = 100_000
MAX_WRITERS = 32  # the most writes in flight, however high the latency

# Failures that say nothing about one record: the run (or batch) must stop, not reject.
FATAL_ERRORS: tuple[type[api_errors.IntercomError], ...] = (
    api_errors.AuthenticationError,
    api_errors.ForbiddenError,
    api_errors.RateLimitError,
    api_errors.ServerError,
    api_errors.TransportError,
    api_errors.AmbiguousWriteError,
)


def rejection(error: api_errors.IntercomError, what: str) -> RecordRejected:
    """A record-level 4xx from Intercom as a reject carrying its code and request id."""
    return RecordRejected(
        f"Intercom refused {what}: {error.message}",
        code=error.code,
        status=error.status,
        request_id=error.request_id,
    )


def is_record_error(error: BaseException) -> bool:
    """A 4xx about this record (rejected), as opposed to a failure of the run (raised)."""
    return (
        isinstance(error, api_errors.IntercomError)
        and not isinstance(error, FATAL_ERRORS)
        and error.status is not None
        and 400 <= error.status < 500
    )


class Workspace:
    """The run's client, thread pool and caches (see the module docstring)."""

    def __init__(
        self, settings: ClientSettings, options: TargetOptions, logger: logging.Logger
    ) -> None:
        self.settings = settings
        self.options = options
        self.logger = logger
        self.client = IntercomClient(settings)
        # Up to MAX_WRITERS threads; how many writes are in flight follows the measured
        # latency and the rate budget (map_all), never fewer than max_workers.
        self.executor = ThreadPoolExecutor(
            max_workers=max(settings.max_workers, MAX_WRITERS),
            thread_name_prefix="intercom-write",
        )
        self._lock = threading.RLock()
        self._local = threading.local()
        self.company_ids: dict[str, str | None] = {}  # reference -> Intercom id (None: absent)
        # company_id -> the company as last seen (None: known not to exist)
        self.companies: dict[str, dict[str, Any] | None] = {}
        self._tags: dict[str, str] | None = None  # lower-case name -> id
        self._attributes: dict[str, dict[str, str]] = {}  # model -> {name: data_type}
        self._attributes_unavailable: set[str] = set()
        self._memo: OrderedDict[tuple[str, str, str], dict[str, Any]] = OrderedDict()

    def close(self) -> None:
        self.executor.shutdown(wait=True)
        self.client.close()

    # -- threads --------------------------------------------------------------------------
    def _submit(self, fn: Callable[[T], Any], item: T) -> Future[Any]:
        def task() -> Any:
            self._local.in_pool = True
            return fn(item)

        return self.executor.submit(task)

    def _in_pool(self) -> bool:
        # A task waiting on tasks of its own pool could wait forever: run those inline.
        return getattr(self._local, "in_pool", False)

    def run_all(self, fn: Callable[[T], None], items: Iterable[T]) -> None:
        """Run ``fn`` on every item on the write threads; wait for all, then raise the first
        error. Waiting for all first keeps the batch whole: nothing is left in flight."""
        self.map_all(fn, items)

    def map_all(self, fn: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
        """``fn`` on every item in parallel; results in order (first error raised after all
        have finished)."""
        if self._in_pool():
            return [fn(item) for item in items]
        futures: list[Future[Any]] = []
        running: set[Future[Any]] = set()
        for item in items:
            # Enough writes in flight to keep the budget busy at the latency measured so far
            # (Little's law), so a user need not compute worker counts (issue 12).
            width = self.client.concurrency_for_budget(
                floor=self.settings.max_workers, ceiling=max(self.settings.max_workers, MAX_WRITERS)
            )
            while len(running) >= width:
                _, running = wait(running, return_when=FIRST_COMPLETED)
            future = self._submit(fn, item)
            futures.append(future)
            running.add(future)
        for future in futures:
            future.exception()  # wait for all before raising
        return [f.result() for f in futures]

    # -- contacts written by this run ------------------------------------------------------
    def remember(self, role: str, key: tuple[str, str], contact: dict[str, Any] | None) -> None:
        with self._lock:
            full = (role, *key)
            if contact is None:
                self._memo.pop(full, None)
                return
            self._memo[full] = contact
            self._memo.move_to_end(full)
            if len(self._memo) > MEMO_SIZE:
                self._memo.popitem(last=False)

    def recall(self, role: str, key: tuple[str, str]) -> dict[str, Any] | None:
        with self._lock:
            return self._memo.get((role, *key))

    # -- contact look-ups ---------------------------------------------------------------------
    def search_contacts(
        self, field: str, values: list[str], role: str | None = None
    ) -> list[dict[str, Any]]:
        """Contacts (of ``role``) whose ``field`` is one of ``values``: a few searches, ``IN``
        over up to 225 values each (FACTS.md §2.6 limits), run in parallel."""
        if not values:
            return []
        chunks = q.in_chunks(field, values, q.DEFAULT_IN_CHUNK)
        per_query = q.MAX_FILTERS_PER_GROUP
        queries = [q.or_(*chunks[i : i + per_query]) for i in range(0, len(chunks), per_query)]
        if role is not None:
            queries = [q.and_(q.filter("role", "=", role), query) for query in queries]

        def run(query: dict[str, Any]) -> list[dict[str, Any]]:
            return [c for page in self.client.iter_search("/contacts/search", query) for c in page]

        return [c for found in self.map_all(run, queries) for c in found]

    # -- companies ------------------------------------------------------------------------
    def find_company(self, company_id: str) -> dict[str, Any] | None:
        """GET /companies?company_id= (cached, absence too): the company, or None."""
        with self._lock:
            if company_id in self.companies:
                return self.companies[company_id]
        try:
            data = self.client.get("/companies", {"company_id": company_id})
        except api_errors.NotFoundError:
            data = {}
        # 2.16 answers a list (company_list); older versions the company itself.
        items = data.get("data") if data.get("type") == "list" else [data]
        company = next(
            (c for c in items or () if isinstance(c, dict) and c.get("company_id") == company_id),
            None,
        )
        if company is not None:
            self.note_company(company)
        else:
            with self._lock:
                self.companies.setdefault(company_id, None)
        return company

    def note_company(self, company: Mapping[str, Any]) -> None:
        with self._lock:
            if company.get("company_id"):
                self.companies[str(company["company_id"])] = dict(company)
                self.company_ids[str(company["company_id"])] = str(company["id"])
            self.company_ids[str(company["id"])] = str(company["id"])

    def forget_company(self, company_id: str) -> None:
        with self._lock:
            company = self.companies.pop(company_id, None)
            self.company_ids.pop(company_id, None)
            if company is not None:
                self.company_ids.pop(str(company.get("id")), None)

    def resolve_company(self, ref: str) -> str | None:
        """Your company_id or an Intercom company id -> Intercom id (None: no such company)."""
        with self._lock:
            if ref in self.company_ids:
                return self.company_ids[ref]
        company = self.find_company(ref)
        found = str(company["id"]) if company else None
        if found is None and _HEX_ID.match(ref):
            try:
                by_id = self.client.get(f"/companies/{ref}")
            except api_errors.NotFoundError:
                by_id = None
            if by_id and by_id.get("id"):
                self.note_company(by_id)
                found = str(by_id["id"])
        with self._lock:
            self.company_ids[ref] = found
        return found

    def resolve_companies(self, refs: Iterable[str]) -> None:
        """Resolve every new reference of a batch, in parallel."""
        with self._lock:
            todo = [r for r in dict.fromkeys(refs) if r not in self.company_ids]
        if todo:
            self.map_all(self.resolve_company, todo)

    # -- tags -----------------------------------------------------------------------------
    def tag_ids(self, names: Iterable[str]) -> dict[str, str | RecordRejected]:
        """Tag name -> id, creating missing tags (POST /tags; a dry run creates none).

        A tag Intercom refuses to create maps to the RecordRejected its records get.
        """
        wanted = list(dict.fromkeys(names))
        if not wanted:
            return {}
        with self._lock:
            if self._tags is None:
                data = self.client.get("/tags")
                self._tags = {
                    str(t["name"]).lower(): str(t["id"])
                    for t in data.get("data") or []
                    if isinstance(t, dict) and t.get("name") is not None
                }
            out: dict[str, str | RecordRejected] = {}
            for name in wanted:
                tag_id = self._tags.get(name.lower())
                if tag_id is None:
                    if self.options.dry_run:
                        self.logger.info("dry run: would create tag %r", name)
                        tag_id = f"dry-run:{name}"
                    else:
                        try:
                            # POST /tags creates or updates by name: safe to retry.
                            tag = self.client.post("/tags", {"name": name}, idempotent=True)
                        except api_errors.IntercomError as e:
                            if not is_record_error(e):
                                raise
                            out[name] = rejection(e, f"tag {name!r}")
                            continue
                        tag_id = str((tag or {})["id"])
                        self.logger.info("created tag %r (id %s)", name, tag_id)
                    self._tags[name.lower()] = tag_id
                out[name] = tag_id
            return out

    # -- custom data attributes --------------------------------------------------------------
    def _known_attributes(self, model: str) -> dict[str, str] | None:
        """Custom attribute name -> data type (None when the list cannot be read)."""
        if model in self._attributes_unavailable:
            return None
        if model not in self._attributes:
            try:
                data = self.client.get("/data_attributes", {"model": model})
            except api_errors.IntercomError as e:
                if not is_record_error(e):
                    raise
                # Without the list, Intercom itself rejects unknown attributes (a 400).
                self.logger.warning(
                    "cannot list %s data attributes (%s); not pre-checking", model, e
                )
                self._attributes_unavailable.add(model)
                return None
            self._attributes[model] = {
                str(a["name"]): str(a.get("data_type") or "string")
                for a in data.get("data") or []
                if isinstance(a, dict) and a.get("custom")
            }
        return self._attributes[model]

    def prepare_attributes(
        self, model: str, wanted: Mapping[str, str]
    ) -> tuple[dict[str, str] | None, set[str]]:
        """Check the custom attributes a batch uses; create missing ones when allowed.

        ``wanted``: name -> the data type to create it with. Returns the data type of every
        attribute of ``model`` (None when the list cannot be read) and the names still
        unknown: records using them are rejected.
        """
        with self._lock:
            known = self._known_attributes(model)
            if known is None:
                return None, set()
            missing = [n for n in wanted if n not in known]
            if not missing or not self.options.create_custom_attributes:
                return dict(known), set(missing)
            unknown: set[str] = set()
            for name in missing:
                data_type = wanted[name]
                if self.options.dry_run:
                    self.logger.info(
                        "dry run: would create %s attribute %r (%s)", model, name, data_type
                    )
                    known[name] = data_type
                    continue
                if not self.create_attribute(model, name, data_type):
                    unknown.add(name)
            return dict(self._known_attributes(model) or known), unknown

    def create_attribute(self, model: str, name: str, data_type: str) -> bool:
        """POST /data_attributes; True when the attribute exists afterwards."""
        with self._lock:
            known = self._known_attributes(model)
            if known is not None and name in known:
                return True
            try:
                self.client.post(
                    "/data_attributes", {"name": name, "model": model, "data_type": data_type}
                )
            except api_errors.AmbiguousWriteError:
                pass  # checked below by listing again
            except api_errors.IntercomError as e:
                if not is_record_error(e):
                    raise
                self.logger.warning("cannot create %s attribute %r: %s", model, name, e)
            self._attributes.pop(model, None)
            known = self._known_attributes(model)
            created = known is None or name in known
            if created:
                self.logger.info("created %s attribute %r (%s)", model, name, data_type)
            return created
