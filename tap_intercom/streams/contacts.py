"""Streams `users` and `leads`: Intercom contacts of one role, with tag and company names."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import quote

from typing_extensions import override

from intercom_api import errors
from intercom_api import query as q
from intercom_api.contacts import get_contact_following_merges
from tap_intercom.search import SearchStream, log


class ContactsStream(SearchStream):
    """Contacts of ``role``, via POST /contacts/search (day-granular dates, FACTS.md §2.6)."""

    search_path = "/contacts/search"
    list_key = "data"
    day_granular = True
    role: ClassVar[str]
    ids_setting: ClassVar[str]
    external_ids_setting: ClassVar[str | None] = None  # Intercom looks up users only

    @override
    def base_filters(self) -> tuple[dict[str, Any], ...]:
        return (q.filter("role", "=", self.role),)

    # -- names of tags and companies (the original connector exposed them) -------------------
    @override
    def on_expected(self, total: int) -> None:
        # Start listing companies (if worth it) while the range is being cut.
        self.run.company_names.preload_async(total)

    @override
    def enrich(self, records: list[dict[str, Any]]) -> None:
        tag_names, company_names = self.run.tag_names, self.run.company_names
        if self._reader is not None:
            company_names.preload(self._reader.expected)  # waits if under way
        company_names.prefetch(
            str(item["id"])
            for rec in records
            if isinstance(rec.get("companies"), dict) and not rec["companies"].get("has_more")
            for item in rec["companies"].get("data") or []
            if isinstance(item, dict) and item.get("id") is not None
        )
        for rec in records:
            tags = rec.get("tags")
            if isinstance(tags, dict):
                full = self._all_tags(rec["id"]) if tags.get("has_more") else None
                if full is not None:
                    tags["data"] = full
                else:
                    for item in tags.get("data") or []:
                        if isinstance(item, dict) and item.get("id") is not None:
                            item["name"] = tag_names.name(str(item["id"]))
            companies = rec.get("companies")
            if isinstance(companies, dict):
                full = self._all_companies(rec["id"]) if companies.get("has_more") else None
                if full is not None:
                    companies["data"] = full
                else:
                    for item in companies.get("data") or []:
                        if isinstance(item, dict) and item.get("id") is not None:
                            item["name"] = company_names.name(str(item["id"]))

    def _gone(self, contact_id: str, what: str, e: errors.IntercomError) -> None:
        """The contact was deleted (404) or merged (410) since the search listed it."""
        how = "merged into another contact" if isinstance(e, errors.GoneError) else "deleted"
        log.info(
            "%s: contact %s was %s after the search listed it; emitted with the %s it showed",
            self.name,
            contact_id,
            how,
            what,
        )

    def _all_tags(self, contact_id: str) -> list[dict[str, Any]] | None:
        """A contact shows at most 10 tags (FACTS.md §2.1); the rest come from its tags list.

        None when the contact is gone since the search (its embedded tags are kept)."""
        try:
            data = self.client.get(f"/contacts/{quote(contact_id, safe='')}/tags")
        except (errors.NotFoundError, errors.GoneError) as e:
            self._gone(contact_id, "tags", e)
            return None
        return [
            {"type": "tag", "id": t.get("id"), "url": f"/tags/{t.get('id')}", "name": t.get("name")}
            for t in data.get("data") or []
        ]

    def _all_companies(self, contact_id: str) -> list[dict[str, Any]] | None:
        """At most 10 companies are embedded (FACTS.md §2.1); page through the rest.

        None when the contact is gone since the search (its embedded companies are kept)."""
        out: list[dict[str, Any]] = []
        try:
            for page in self.client.iter_pages(
                f"/contacts/{quote(contact_id, safe='')}/companies", list_key="companies"
            ):
                self.run.company_names.prime(page)
                out.extend(
                    {
                        "type": "company",
                        "id": c.get("id"),
                        "url": f"/companies/{c.get('id')}",
                        "name": c.get("name"),
                    }
                    for c in page
                )
        except (errors.NotFoundError, errors.GoneError) as e:
            self._gone(contact_id, "companies", e)
            return None
        return out

    # -- read by ids (the original connector's "Get a user" / "Get a lead") -------------------
    def _lookups(self) -> list[tuple[str, str]]:
        """(setting, value) to read one by one: Intercom ids, then external ids (users)."""
        opts = self.run.options
        found = [(self.ids_setting, i) for i in getattr(opts, self.ids_setting) or ()]
        if self.external_ids_setting:
            ext = getattr(opts, self.external_ids_setting) or ()
            found += [(self.external_ids_setting, e) for e in ext]
        return list(dict.fromkeys(found))

    @override
    def lookup_ids(self) -> list[str] | None:
        found = self._lookups()
        return [value for _, value in found] if found else None

    def _get_contact(self, lookup: tuple[str, str]) -> dict[str, Any] | None:
        """One contact by Intercom id (GET /contacts/{id}) or by external id (GET
        /contacts/find_by_external_id/{id}, users only, FACTS.md §2.3), following a merged
        id through its 410 Link to the contact it became (``intercom_api.contacts``)."""
        setting, value = lookup
        try:
            if setting == self.external_ids_setting:
                try:
                    path = f"/contacts/find_by_external_id/{quote(value, safe='')}"
                    return self.client.get(path)
                except errors.GoneError as e:
                    if not e.canonical_id:
                        raise
                    log.info(
                        "%s: external id %s was merged into %s", self.name, value, e.canonical_id
                    )
                    value = e.canonical_id
            value = quote(value, safe="")
            contact, current = get_contact_following_merges(self.client, value)
        except errors.GoneError:
            log.warning(
                "%s: merged contact %s (from setting %s) could not be resolved; skipped",
                self.name,
                lookup[1],
                setting,
            )
            return None
        except errors.NotFoundError:
            contact = None
        if contact is None:
            hint = ""
            if setting == self.ids_setting and self.external_ids_setting:
                hint = (
                    f" ({setting} takes Intercom ids; for your own ids, the original "
                    f"connector's user_id, use {self.external_ids_setting})"
                )
            log.warning(
                "%s: contact %s (from setting %s) does not exist; skipped%s",
                self.name,
                lookup[1],
                setting,
                hint,
            )
            return None
        if current != value:
            log.info("%s: contact %s was merged into %s", self.name, value, current)
        return contact

    @override
    def records_by_id(self, ids: list[str]) -> Iterator[dict[str, Any]]:
        lookups = self._lookups()
        contacts = list(self.run.pool.map(self._get_contact, lookups))
        seen: set[str] = set()
        for (setting, asked), contact in zip(lookups, contacts, strict=True):
            if contact is None or contact.get("id") in seen:
                continue
            if contact.get("role") != self.role:
                log.warning(
                    "%s: contact %s (from setting %s) is a %s, not a %s; skipped",
                    self.name,
                    asked,
                    setting,
                    contact.get("role"),
                    self.role,
                )
                continue
            seen.add(contact["id"])
            self.enrich([contact])
            self._convert(contact)
            yield contact


class UsersStream(ContactsStream):
    """Contacts with role ``user``."""

    name = "users"
    role = "user"
    ids_setting = "user_ids"
    external_ids_setting = "user_external_ids"


class LeadsStream(ContactsStream):
    """Contacts with role ``lead``; with no state, no start_date and no ids: every lead."""

    name = "leads"
    role = "lead"
    ids_setting = "lead_ids"
