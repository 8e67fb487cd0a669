"""CompanyStore: companies keyed by Intercom id and by your ``company_id``, plus the scroll.

Rules (FACTS.md §4, [S16:5978, 6739, 6834]): POST /companies upserts by ``company_id``,
which can never change; ``monthly_spend`` truncates floats and stops at 2^31-1; custom
attributes must exist as company data attributes; list and scroll omit companies without
users; the list stops at 10,000 companies; one scroll per app, expiring after 60 s unused.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.models.data_attributes import check_value
from intercom_sandbox.models.errors import ScrollNotFound

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

MAX_MONTHLY_SPEND = 2**31 - 1
LIST_CAP = 10_000
SCROLL_PAGE_SIZE = 100  # "get 100 companies with each request" (2.3 scroll docs)
SCROLL_TTL_SECONDS = 60

# Body fields of POST /companies [S16 create_or_update_company_request] and
# PUT /companies/{id} [S16 update_company_request]. Anything else is a 400 bad_request.
CREATE_FIELDS = frozenset(
    [
        "name",
        "company_id",
        "plan",
        "size",
        "website",
        "industry",
        "custom_attributes",
        "remote_created_at",
        "update_last_request_at",
        "monthly_spend",
    ]
)
UPDATE_FIELDS = CREATE_FIELDS - {"company_id", "remote_created_at", "update_last_request_at"}
_STRINGS = ("name", "plan", "website", "industry")
_INTEGERS = ("size", "remote_created_at")


class CompanyStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.by_id: dict[str, dict[str, Any]] = {}
        self._by_company_id: dict[str, str] = {}
        self._plans: dict[str, str] = {}  # plan name -> plan id
        # The one open scroll of the app: {"param", "ids", "pos", "last_used"} or None.
        self._scroll: dict[str, Any] | None = None

    # -- reads ------------------------------------------------------------------------------
    def get(self, company_id: str) -> dict[str, Any] | None:
        """A company by Intercom id."""
        return self.by_id.get(company_id)

    def by_company_id(self, your_company_id: str) -> dict[str, Any] | None:
        """A company by the ``company_id`` you gave it."""
        cid = self._by_company_id.get(your_company_id)
        return None if cid is None else self.by_id[cid]

    def by_name(self, name: str) -> dict[str, Any] | None:
        for company in self.by_id.values():
            if company["name"] == name:
                return company
        return None

    def require(self, company_id: str) -> dict[str, Any]:
        company = self.get(company_id)
        if company is None:
            raise exc.CompanyNotFound()
        return company

    def user_count(self, company: dict[str, Any]) -> int:
        return len(self.backend.contacts.contact_ids_for_company(company["id"]))

    def with_users(self) -> list[dict[str, Any]]:
        """Companies with at least one user: the only ones lists show (FACTS.md §4)."""
        ids_for = self.backend.contacts.contact_ids_for_company
        return [c for c in self.by_id.values() if ids_for(c["id"])]

    # -- writes -----------------------------------------------------------------------------
    def create_or_update(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /companies: update the company with this ``company_id``, else create it."""
        _reject_unknown(body, CREATE_FIELDS)
        your_id = body.get("company_id")
        if your_id is None or your_id == "":
            raise exc.ParameterNotFound("company_id not specified", field="company_id")
        if isinstance(your_id, bool) or not isinstance(your_id, (str, int)):
            raise exc.ParameterInvalid("company_id must be a string", field="company_id")
        your_id = str(your_id)
        changes = self._validate(body)
        now = self.backend.now()
        company = self.by_company_id(your_id)
        if company is None:
            company = {
                "id": self.backend.new_hex_id(),
                "company_id": your_id,
                "name": None,
                "plan": None,
                "size": None,
                "website": None,
                "industry": None,
                "custom_attributes": {},
                "remote_created_at": None,
                "created_at": now,
                "updated_at": now,
                "last_request_at": None,
                "monthly_spend": 0,
                "session_count": 0,
                "tag_ids": [],
            }
            self.by_id[company["id"]] = company
            self._by_company_id[your_id] = company["id"]
        self._apply(company, changes, now)
        if body.get("update_last_request_at") is True:
            company["last_request_at"] = now
        return company

    def update(self, company_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """PUT /companies/{id}: update by Intercom id (``company_id`` cannot change)."""
        company = self.require(company_id)
        _reject_unknown(body, UPDATE_FIELDS)
        self._apply(company, self._validate(body), self.backend.now())
        return company

    def delete(self, company_id: str) -> dict[str, Any]:
        company = self.require(company_id)
        del self.by_id[company_id]
        self._by_company_id.pop(company["company_id"], None)
        return company

    def tag(self, company: dict[str, Any], tag_id: str, *, untag: bool = False) -> None:
        if untag:
            if tag_id in company["tag_ids"]:
                company["tag_ids"].remove(tag_id)
        elif tag_id not in company["tag_ids"]:
            company["tag_ids"].append(tag_id)
        company["updated_at"] = self.backend.now()

    def forget_tag(self, tag_id: str) -> None:
        """A deleted tag leaves every company."""
        for company in self.by_id.values():
            if tag_id in company["tag_ids"]:
                company["tag_ids"].remove(tag_id)

    def _validate(self, body: dict[str, Any]) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        for key in _STRINGS:
            if key in body:
                value = body[key]
                if value is not None and not isinstance(value, str):
                    raise exc.ParameterInvalid(f"{key} must be a string", field=key)
                changes[key] = value
        for key in _INTEGERS:
            if key in body:
                value = body[key]
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise exc.ParameterInvalid(f"{key} must be an integer", field=key)
                changes[key] = value
        if "monthly_spend" in body:
            spend = body["monthly_spend"]
            if isinstance(spend, bool) or not isinstance(spend, (int, float)):
                raise exc.ParameterInvalid("monthly_spend must be a number", field="monthly_spend")
            # Floats are truncated, 155.98 -> 155; the ceiling is 2**31-1 [S16:28567].
            spend = int(spend)
            if spend > MAX_MONTHLY_SPEND:
                raise exc.ParameterInvalid(
                    f"monthly_spend must be at most {MAX_MONTHLY_SPEND}", field="monthly_spend"
                )
            changes["monthly_spend"] = spend
        if "update_last_request_at" in body and not isinstance(
            body["update_last_request_at"], bool
        ):
            raise exc.ParameterInvalid(
                "update_last_request_at must be true or false", field="update_last_request_at"
            )
        attrs = body.get("custom_attributes")
        if attrs is not None:
            if not isinstance(attrs, dict):
                raise exc.ParameterInvalid(
                    "custom_attributes must be an object", field="custom_attributes"
                )
            for name, value in attrs.items():
                attr = self.backend.workspace.get_data_attribute("company", name)
                if attr is None:
                    # Custom attributes must exist first (FACTS.md §2.2).
                    raise exc.ParameterInvalid(
                        f"Custom attribute '{name}' does not exist",
                        field=f"custom_attributes.{name}",
                    )
                check_value(attr, name, value)
            changes["custom_attributes"] = attrs
        return changes

    def _apply(self, company: dict[str, Any], changes: dict[str, Any], now: int) -> None:
        attrs = changes.pop("custom_attributes", None)
        if attrs:
            company["custom_attributes"].update(attrs)
        plan = changes.get("plan")
        if plan and plan not in self._plans:
            self._plans[plan] = str(len(self._plans) + 1)
        company.update(changes)
        company["updated_at"] = now

    # -- rendering --------------------------------------------------------------------------
    def render(self, company: dict[str, Any]) -> dict[str, Any]:
        """The spec's ``company`` object [S16:24955]; unset optional fields are left out."""
        ws = self.backend.workspace
        out: dict[str, Any] = {
            "type": "company",
            "company_id": company["company_id"],
            "id": company["id"],
            "app_id": self.backend.workspace_id,
        }
        if company["name"] is not None:
            out["name"] = company["name"]
        for key in ("remote_created_at", "created_at", "updated_at", "last_request_at"):
            if company[key] is not None:
                out[key] = company[key]
        for key in ("size", "website", "industry"):
            if company[key] is not None:
                out[key] = company[key]
        out["monthly_spend"] = company["monthly_spend"]
        out["session_count"] = company["session_count"]
        out["user_count"] = self.user_count(company)
        tags = [ws.get_tag(t) for t in company["tag_ids"]]
        out["tags"] = {"type": "tag.list", "tags": [ws.render_tag(t) for t in tags if t]}
        out["segments"] = {"type": "segment.list", "segments": []}
        plan = company["plan"]
        out["plan"] = {"type": "plan", "id": self._plans[plan], "name": plan} if plan else {}
        out["custom_attributes"] = dict(company["custom_attributes"])
        return out

    # -- lists ------------------------------------------------------------------------------
    def listed(self, order: str = "desc") -> tuple[list[dict[str, Any]], int]:
        """POST /companies/list: (companies by last_request_at, desc by default, capped at
        10,000; how many companies with users there are in all)."""
        rows = self.with_users()
        rows.sort(
            key=lambda c: (c["last_request_at"] is not None, c["last_request_at"] or 0, c["id"]),
            reverse=order == "desc",
        )
        return rows[:LIST_CAP], len(rows)

    # -- scroll -----------------------------------------------------------------------------
    def _live_scroll(self) -> dict[str, Any] | None:
        scroll = self._scroll
        if (
            scroll is not None
            and self.backend.clock.now() - scroll["last_used"] > SCROLL_TTL_SECONDS
        ):
            self._scroll = scroll = None  # unused for a minute: expired [S16:6834]
        return scroll

    def _new_param(self) -> str:
        return str(uuid.UUID(int=self.backend.rng.getrandbits(128), version=4))

    def scroll(self, scroll_param: str | None) -> tuple[list[dict[str, Any]], str]:
        """One scroll page: (companies, the scroll_param for the next call).

        Without ``scroll_param`` a new scroll starts (400 scroll_exists while another is
        open); with one, it must be the live scroll's latest param (404 otherwise). The end
        is a page with no companies, after which the scroll is gone.
        """
        scroll = self._live_scroll()
        if not scroll_param:
            if scroll is not None:
                raise exc.ScrollExists()
            ids = [c["id"] for c in self.with_users()]
            scroll = {"ids": ids, "pos": 0}
            self._scroll = scroll
        elif scroll is None or scroll["param"] != scroll_param:
            raise ScrollNotFound()
        ids = scroll["ids"]
        page: list[dict[str, Any]] = []
        pos = scroll["pos"]
        while pos < len(ids) and len(page) < SCROLL_PAGE_SIZE:
            company = self.by_id.get(ids[pos])
            if company is not None:  # deleted since the scroll began
                page.append(company)
            pos += 1
        scroll["pos"] = pos
        scroll["param"] = self._new_param()
        scroll["last_used"] = self.backend.clock.now()
        param = scroll["param"]
        if not page:
            self._scroll = None  # the end: the param expires with it
        return page, param

    # -- control ----------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {"companies": [self.render(c) for c in self.by_id.values()]}


def _reject_unknown(body: dict[str, Any], allowed: frozenset[str]) -> None:
    for key in body:
        if key not in allowed:
            # The spec's example: {"test": "invalid"} -> 400 bad_request "bad 'test' parameter".
            raise exc.BadRequest(f"bad '{key}' parameter", field=key)
