"""companies: create or update by company_id (POST /companies upserts, FACTS.md §4).

Each company is looked up first (GET /companies?company_id=, cached for the run), which
tells created from updated, lets an identical record skip its write, and lets users and leads
of the same run attach the company without another look-up. Companies cannot be archived:
with ``delete_mode: delete`` a record carrying _sdc_deleted_at deletes the company.

``write_mode: update_only`` skips a row whose company does not exist (``skipped_no_match``);
``create_only`` skips a row whose company exists (``skipped_exists``).
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from intercom_api import errors as api_errors
from target_intercom.mapping import CompanyInput, map_company
from target_intercom.outcomes import Outcome, RecordRejected
from target_intercom.sinks.base import IntercomSink, Pending
from target_intercom.sinks.contacts import same


def company_changes(inp: CompanyInput, company: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``inp`` that differ from ``company`` as Intercom returns it."""
    diff: dict[str, Any] = {}
    for name, value in inp.body().items():
        if name == "company_id":
            continue
        if name == "custom_attributes":
            current = company.get("custom_attributes") or {}
            if any(not same(current.get(k), v) for k, v in value.items()):
                diff[name] = value
            continue
        current = company.get(name)
        if name == "plan" and isinstance(current, dict):  # returned as {"type": "plan", name}
            current = current.get("name")
        if not same(current, value):
            diff[name] = value
    return diff


class CompaniesSink(IntercomSink):
    """Writes the ``companies`` stream."""

    key_fields = ("company_id",)

    @override
    def write_batch(self, batch: list[Pending]) -> None:
        extra = self.options.extra_columns
        items = self.parse_all(batch, lambda r: map_company(r, extra=extra))
        writes = self.check_attributes([i for i in items if not i.parsed.deleted], "company")
        items = [i for i in items if i.parsed.deleted] + writes
        groups: dict[str, list[Pending]] = {}
        for item in sorted(items, key=lambda p: p.line or 0):
            groups.setdefault(item.parsed.company_id, []).append(item)
        self.workspace.map_all(self.workspace.find_company, list(groups))
        self.workspace.run_all(self.write_group, list(groups.values()))

    def write_group(self, items: list[Pending]) -> None:
        for item in items:
            self.guarded(item, self.write_one, "the company")

    @override
    def describe(self, item: Pending) -> str:
        return f"company {item.parsed.company_id}"

    def write_one(self, item: Pending) -> Outcome:
        inp: CompanyInput = item.parsed
        company = self.workspace.find_company(inp.company_id)
        if company is not None and not str(company.get("id")).startswith("dry-run:"):
            item.intercom_id = str(company["id"])
        if inp.deleted:
            return self.remove(item, company)
        if item.mode == "update_only" and company is None:
            return Outcome.SKIPPED_NO_MATCH
        if item.mode == "create_only" and company is not None:
            return Outcome.SKIPPED_EXISTS
        if company is None:
            outcome, diff = Outcome.CREATED, inp.body()
        else:
            diff = company_changes(inp, company)
            outcome = Outcome.UPDATED if diff else Outcome.UNCHANGED
        if diff and self.dry_run:
            # Let users and leads of this dry run attach the company it would create.
            self.workspace.note_company(
                {"id": f"dry-run:{inp.company_id}", **(company or {}), **inp.body()}
            )
        elif diff:
            # POST /companies upserts by company_id: a retry cannot duplicate (FACTS.md §4).
            body = {"company_id": inp.company_id, **diff}
            written = self.send(item, "POST", "/companies", body, idempotent=True)
            if written.get("id"):
                item.intercom_id = str(written["id"])
                self.workspace.note_company(written)
        return outcome

    def remove(self, item: Pending, company: dict[str, Any] | None) -> Outcome:
        mode = self.options.delete_mode
        if mode == "ignore" or company is None:
            return Outcome.UNCHANGED
        if mode == "archive":
            raise RecordRejected(
                "_sdc_deleted_at is set but Intercom cannot archive companies: set "
                "delete_mode to delete (to delete them) or ignore"
            )
        if not self.dry_run:
            try:
                self.send(item, "DELETE", f"/companies/{company['id']}")
            except api_errors.NotFoundError:
                self.workspace.forget_company(item.parsed.company_id)
                return Outcome.UNCHANGED
        self.workspace.forget_company(item.parsed.company_id)
        return Outcome.DELETED
