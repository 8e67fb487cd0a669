"""ContactStore: users and leads, their rules (FACTS.md §2), list paging and search.

Records are compact, sparse dicts under the API's field names (absent = null), plus
internal ``_`` keys: ``_seq`` (creation order), ``_archived``, ``_tags`` {tag id: applied
at}, ``_companies`` {company id: attached at}, ``_notes`` (note ids), ``_merge_history``,
``_email_verified``. Records are replaced on every write, never mutated (copy-on-write),
so the lagged search index can keep serving older versions.

Archived contacts: GET by id still answers them, and they still block a duplicate user
(409 "An archived contact ..."), but list and search exclude them — the reason to archive.
Merged-away contacts answer 410 with a Link to the contact they were merged into.
"""

from __future__ import annotations

import html
from bisect import bisect_right
from collections.abc import Iterable
from datetime import timezone
from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.cursors import decode_cursor_payload, encode_cursor, invalid_cursor
from intercom_sandbox.models.contacts_fields import (
    DATA_TYPE_SEARCH,
    SEARCH_ALIASES,
    SEARCH_FIELDS,
    validate_write,
)
from intercom_sandbox.models.contacts_render import render_contact, template
from intercom_sandbox.search import (
    DateMode,
    LaggedIndex,
    ParsedSearch,
    SearchCache,
    SearchOptions,
    SearchSpec,
    dotted_getter,
    run_search,
)
from intercom_sandbox.settings import PREVIEW_VERSIONS

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

Contact = dict[str, Any]
MAX_COMPANIES = 1000  # FACTS.md §2.7
MERGE_HOPS = 3  # the Link header resolves up to 3 merge hops [S16:8024]
EMAIL_FIELDS = frozenset(["email", "email_domain"])
_EMPTY: dict[str, Any] = {}


def merged_error(canonical_id: str) -> exc.ContactMerged:
    """410 Gone for a merged-away contact, pointing at the contact it became [S16:8024]."""
    return exc.ContactMerged(
        "This contact has been merged. See the 'Link' header for the canonical contact.",
        headers={"Link": f'</contacts/{canonical_id}>; rel="canonical"'},
    )


class ContactStore:
    """Every contact of the workspace, their indexes and the search index."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._by_id: dict[str, Contact] = {}  # live (incl. archived), in creation order
        self._seq = 0
        self._order: list[str] = []  # ids by creation, may hold deleted ones (skipped)
        self._order_seq: list[int] = []
        self._archived = 0
        self._user_by_email: dict[str, str] = {}  # lower-cased e-mail -> user id
        self._user_by_ext: dict[str, str] = {}  # external_id -> user id
        self._merged: dict[str, str] = {}  # merged-away id -> id merged into
        self._merged_ext: dict[str, str] = {}  # external_id of a merged-away contact -> its id
        self._deleted: set[str] = set()
        self._company_members: dict[str, dict[str, None]] = {}
        self._tag_members: dict[str, dict[str, None]] = {}
        self._notes: dict[str, dict[str, Any]] = {}
        # Search result lists stay cached across writes: the index reports each change.
        self.search_cache = SearchCache()
        self.index = LaggedIndex(
            now=backend.clock.now,
            lag=lambda: backend.search_lag_seconds,
            alive=self._searchable,
            on_change=self.search_cache.apply,
        )
        self._template = template(backend.workspace_id)
        accessors: dict[str, Any] = {a: dotted_getter(t) for a, t in SEARCH_ALIASES.items()}
        accessors["tag_id"] = lambda d: (d.get("_tags") or _EMPTY).keys()
        accessors["segment_id"] = self._segment_ids
        self.search_spec = SearchSpec(
            fields=SEARCH_FIELDS,
            day_granular_dates=True,
            default_per_page=50,
            dates_inclusive=False,
            list_key="data",
            accessors=accessors,
            resolve_field=self._custom_field_type,
            case_insensitive=EMAIL_FIELDS,
            default_sort=("_seq", False),
            default_sort_type="integer",
        )

    # -- lookups (cross-store interface) -------------------------------------------------
    def get(self, contact_id: str) -> Contact | None:
        """The live contact (archived included; not deleted, not merged away)."""
        return self._by_id.get(contact_id)

    def require(self, contact_id: str) -> Contact:
        """The live contact, else 410 (merged away) or 404 "User Not Found"."""
        contact = self._by_id.get(contact_id)
        if contact is not None:
            return contact
        target = self._merged.get(contact_id)
        if target is None:
            raise exc.UserNotFound()
        hops = 1
        while target in self._merged and hops < MERGE_HOPS:
            target = self._merged[target]
            hops += 1
        raise merged_error(target)

    def find_user_by_external_id(self, external_id: str) -> Contact:
        """Users only (leads are 404); 410 when that contact was merged away [S16:9100]."""
        cid = self._user_by_ext.get(external_id)
        if cid is not None:
            return self._by_id[cid]
        merged = self._merged_ext.get(external_id)
        if merged is not None:
            self.require(merged)  # raises the 410
        raise exc.UserNotFound()

    def all_live(self) -> Iterable[Contact]:
        return self._by_id.values()

    def contact_ids_for_company(self, company_id: str) -> list[str]:
        return list(self._company_members.get(company_id, ()))

    def contact_ids_for_tag(self, tag_id: str) -> list[str]:
        return list(self._tag_members.get(tag_id, ()))

    def reference(self, contact: Contact) -> dict[str, Any]:
        return {"type": "contact", "id": contact["id"], "external_id": contact.get("external_id")}

    def __len__(self) -> int:
        return len(self._by_id)

    # -- writes ----------------------------------------------------------------------------
    def create(self, fields: dict[str, Any], *, api: bool = False) -> Contact:
        """POST /contacts rules (FACTS.md §2.2). ``api`` False also takes tracked fields."""
        changes = validate_write(self.backend, fields, creating=True, api=api)
        role = changes.get("role") or "user"
        changes["role"] = role
        if role == "user" and not changes.get("email") and not changes.get("external_id"):
            raise exc.ParameterNotFound(
                "A user needs an email or an external_id (or create a lead with role=lead)",
                field="email",
            )
        self._check_conflict(changes, exclude=None)
        now = self.backend.now()
        self._seq += 1
        record: Contact = {
            "id": self.backend.new_hex_id(),
            "role": role,
            "created_at": now,
            "updated_at": now,
            "_seq": self._seq,
            "has_hard_bounced": False,
            "marked_email_as_spam": False,
            "unsubscribed_from_emails": False,
        }
        for key, value in changes.items():
            if value is not None:
                record[key] = value
        if "created_at" in changes and "updated_at" not in changes:
            record["updated_at"] = record["created_at"]
        self._order.append(record["id"])
        self._order_seq.append(self._seq)
        self._commit(record, None)
        self.backend.emit(f"contact.{role}.created", record)
        return record

    def update(self, contact_id: str, fields: dict[str, Any], *, api: bool = False) -> Contact:
        """PUT /contacts/{id}: a partial update; 409 if it collides with another user."""
        old = self.require(contact_id)
        changes = validate_write(self.backend, fields, creating=False, api=api)
        if old["role"] == "user" and changes.get("role") == "lead":
            raise exc.ParameterInvalid("A user cannot be converted to a lead", field="role")
        new = dict(old)
        for key, value in changes.items():
            if key == "custom_attributes":
                new[key] = {**(old.get(key) or _EMPTY), **value}
            elif value is None:
                new.pop(key, None)
            else:
                new[key] = value
        if new["role"] == "user" and not new.get("email") and not new.get("external_id"):
            raise exc.ParameterNotFound("A user needs an email or an external_id", field="email")
        self._check_conflict(new, exclude=contact_id)
        if "updated_at" not in changes:
            new["updated_at"] = self.backend.now()
        self._commit(new, old)
        self.backend.emit(f"contact.{new['role']}.updated", new)
        return new

    def delete(self, contact_id: str) -> Contact:
        contact = self.require(contact_id)
        self._remove(contact)
        self._deleted.add(contact_id)
        for note_id in contact.get("_notes", ()):
            self._notes.pop(note_id, None)
        self.backend.emit("contact.deleted", contact)
        return contact

    def archive(self, contact_id: str) -> Contact:
        contact = self.require(contact_id)
        if contact.get("_archived"):
            return contact
        new = {**contact, "_archived": True}
        self._by_id[contact_id] = new
        self._archived += 1
        self._reindex_user(contact, new)
        self.index.remove(contact_id)
        self.backend.emit("contact.archived", new)
        return new

    def unarchive(self, contact_id: str) -> Contact:
        contact = self.require(contact_id)
        if not contact.get("_archived"):
            return contact
        new = dict(contact)
        del new["_archived"]
        self._archived -= 1
        self._commit(new, contact)
        return new

    def merge(self, from_id: str, into_id: str, *, skip_duplicate_validation: bool) -> Contact:
        """POST /contacts/merge: a lead into a user (FACTS.md §2.4)."""
        lead = self.require(from_id)
        user = self.require(into_id)
        if from_id == into_id:
            raise exc.InvalidMerge("A contact cannot be merged into itself", field="into")
        if lead["role"] != "lead":
            raise exc.InvalidMerge("The contact to merge from must be a lead", field="from")
        if user["role"] != "user":
            raise exc.InvalidMerge("The contact to merge into must be a user", field="into")
        if not skip_duplicate_validation:
            same_email = bool(lead.get("email")) and (
                lead["email"].lower() == (user.get("email") or "").lower()
            )
            same_phone = bool(lead.get("phone")) and lead.get("phone") == user.get("phone")
            if not (same_email or same_phone):
                raise exc.InvalidMerge()
        now = self.backend.now()
        new = dict(user)
        lead_tags = lead.get("_tags") or _EMPTY
        if lead_tags:
            new["_tags"] = {**lead_tags, **(user.get("_tags") or _EMPTY)}
        lead_companies = lead.get("_companies") or _EMPTY
        if lead_companies:
            new["_companies"] = {**lead_companies, **(user.get("_companies") or _EMPTY)}
        if lead.get("_notes"):
            new["_notes"] = (*user.get("_notes", ()), *lead["_notes"])
            for note_id in lead["_notes"]:
                self._notes[note_id] = {**self._notes[note_id], "contact_id": into_id}
        new["_merge_history"] = (
            *user.get("_merge_history", ()),
            {
                "type": "merge_history",
                "source_contact_id": from_id,
                "source_contact_role": "lead",
                "merged_at": now,
            },
        )
        new["updated_at"] = now
        self._remove(lead)
        self._merged[from_id] = into_id
        if lead.get("external_id"):
            self._merged_ext.setdefault(lead["external_id"], from_id)
        for company_id in new.get("_companies", ()):
            self._company_members.setdefault(company_id, {})[into_id] = None
        for tag_id in new.get("_tags", ()):
            self._tag_members.setdefault(tag_id, {})[into_id] = None
        self._commit(new, user)
        self.backend.emit("contact.merged", new, merged_from=from_id)
        return new

    # -- sub-resources ---------------------------------------------------------------------
    def attach_company(self, contact_id: str, company_id: str) -> dict[str, Any]:
        """Attach by Intercom company id; returns the company record (FACTS.md §2.7)."""
        contact = self.require(contact_id)
        company = self.backend.companies.get(company_id)
        if company is None:
            raise exc.CompanyNotFound()
        companies = contact.get("_companies") or _EMPTY
        if company_id not in companies:
            if len(companies) >= MAX_COMPANIES:
                raise exc.ContactCompanyLimitExceeded()
            now = self.backend.now()
            new = {**contact, "_companies": {**companies, company_id: now}, "updated_at": now}
            self._company_members.setdefault(company_id, {})[contact_id] = None
            self._commit(new, contact)
        return company

    def detach_company(self, contact_id: str, company_id: str) -> dict[str, Any]:
        contact = self.require(contact_id)
        company = self.backend.companies.get(company_id)
        if company is None:
            raise exc.CompanyNotFound()
        companies = contact.get("_companies") or _EMPTY
        if company_id in companies:
            rest = {k: v for k, v in companies.items() if k != company_id}
            new = {**contact, "_companies": rest, "updated_at": self.backend.now()}
            self._company_members.get(company_id, {}).pop(contact_id, None)
            self._commit(new, contact)
        return company

    def company_ids(self, contact: Contact) -> list[str]:
        """Attached companies that still exist, in attach order."""
        get = self.backend.companies.get
        return [c for c in contact.get("_companies") or () if get(c) is not None]

    def attach_tag(self, contact_id: str, tag_id: str) -> dict[str, Any]:
        """Tag a contact; returns the tag record (404 "Resource Not Found" if unknown)."""
        contact = self.require(contact_id)
        tag_id = str(tag_id)
        tag = self.backend.workspace.get_tag(tag_id)
        if tag is None:
            raise exc.NotFound()
        tags = contact.get("_tags") or _EMPTY
        if tag_id not in tags:
            now = self.backend.now()
            new = {**contact, "_tags": {**tags, tag_id: now}, "updated_at": now}
            self._tag_members.setdefault(tag_id, {})[contact_id] = None
            self._commit(new, contact)
        return tag

    def detach_tag(self, contact_id: str, tag_id: str) -> dict[str, Any]:
        contact = self.require(contact_id)
        tag = self.backend.workspace.get_tag(tag_id)
        if tag is None:
            raise exc.NotFound()
        tags = contact.get("_tags") or _EMPTY
        if tag_id in tags:
            rest = {k: v for k, v in tags.items() if k != tag_id}
            new = {**contact, "_tags": rest, "updated_at": self.backend.now()}
            self._tag_members.get(tag_id, {}).pop(contact_id, None)
            self._commit(new, contact)
        return tag

    def tag_ids(self, contact: Contact) -> list[str]:
        """Applied tags that still exist, in the order they were applied."""
        tags = contact.get("_tags") or _EMPTY
        if not tags:
            return []
        get = self.backend.workspace.get_tag
        return [t for t in tags if get(t) is not None]

    def tag_applied_at(self, contact: Contact, tag_id: str) -> int | None:
        return (contact.get("_tags") or _EMPTY).get(tag_id)

    def add_note(self, contact_id: str, body: Any, admin_id: Any = None) -> dict[str, Any]:
        """Create a note on a contact; returns the note as served (spec ``note``)."""
        contact = self.require(contact_id)
        if not isinstance(body, str) or not body.strip():
            raise exc.ParameterNotFound("body is required", field="body")
        if admin_id is not None:
            admin_id = str(admin_id)
            if self.backend.workspace.get_admin(admin_id) is None:
                raise exc.NotFound()  # the spec's "Admin not found" example is this 404
        else:  # no admin_id: the token's admin (the workspace owner) wrote it
            owner = getattr(self.backend.workspace, "owner", None)
            admin_id = owner["id"] if owner else None
        if not body.lstrip().startswith("<"):
            body = f"<p>{html.escape(body, quote=False)}</p>"
        note = {
            "id": self.backend.new_numeric_id(base=0),
            "created_at": self.backend.now(),
            "contact_id": contact_id,
            "admin_id": admin_id,
            "body": body,
        }
        self._notes[note["id"]] = note
        new = {**contact, "_notes": (*contact.get("_notes", ()), note["id"])}
        self._commit(new, contact)
        return self.render_note(note)

    def notes_for(self, contact: Contact) -> list[dict[str, Any]]:
        """The contact's notes, newest first."""
        return [self._notes[n] for n in reversed(contact.get("_notes", ())) if n in self._notes]

    def render_note(self, note: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "note",
            "id": note["id"],
            "created_at": note["created_at"],
            "contact": {"type": "contact", "id": note["contact_id"]},
        }
        if note["admin_id"] is not None:
            admin = self.backend.workspace.get_admin(note["admin_id"])
            if admin is not None:
                out["author"] = self.backend.workspace.render_admin(admin)
        out["body"] = note["body"]
        return out

    # -- list and search -------------------------------------------------------------------
    def list_page(
        self, per_page: int, starting_after: str | None
    ) -> tuple[list[Contact], int, str | None, int]:
        """GET /contacts: (page, total_count, next cursor, page number), creation order."""
        start, page = 0, 1
        if starting_after:
            data = decode_cursor_payload(starting_after)
            if (
                not isinstance(data, list)
                or len(data) != 3
                or data[0] != "list"
                or not isinstance(data[1], int)
                or not isinstance(data[2], int)
            ):
                raise invalid_cursor()
            start, page = bisect_right(self._order_seq, data[1]), data[2]
        out: list[Contact] = []
        order, by_id = self._order, self._by_id
        i, n = start, len(order)
        while i < n and len(out) < per_page:
            contact = by_id.get(order[i])
            if contact is not None and not contact.get("_archived"):
                out.append(contact)
            i += 1
        # Is anything listable left after this page?
        more = False
        while i < n:
            contact = by_id.get(order[i])
            if contact is not None and not contact.get("_archived"):
                more = True
                break
            i += 1
        total = len(by_id) - self._archived
        next_cursor = encode_cursor(["list", out[-1]["_seq"], page + 1]) if more and out else None
        return out, total, next_cursor, page

    def search_options(self, version: str) -> SearchOptions:
        """How a search at this ``Intercom-Version`` reads dates and e-mails (settings.py).

        Stable versions match dates by calendar day in the workspace timezone, Date custom
        attributes too; Preview (or the ``second`` switch) matches standard timestamps to
        the second and Date custom attributes by UTC day (FACTS.md §2.6).
        """
        settings = self.backend.settings
        if settings.contact_date_precision == "second" or version in PREVIEW_VERSIONS:
            dates = DateMode(None, timezone.utc)
        else:
            dates = DateMode(settings.zone, settings.zone)
        ci = EMAIL_FIELDS if settings.email_match == "case_insensitive" else frozenset()
        return SearchOptions(dates=dates, case_insensitive=ci)

    def search(self, parsed: ParsedSearch) -> tuple[list[Contact], int, str | None]:
        """POST /contacts/search over what the (lagged) index sees."""
        docs = self.index.docs()
        # Segment membership is computed by the workspace store: no change reaches us.
        cache_key = None if "segment_id" in parsed.fields_used else "live"
        return run_search(
            parsed, docs, self.search_spec, cache=self.search_cache, cache_key=cache_key
        )

    # -- rendering -------------------------------------------------------------------------
    def render(
        self, contact: Contact, *, single: bool = False, merge_history: bool = False
    ) -> dict[str, Any]:
        """The spec's ``contact`` object (plus the undocumented fields of FACTS.md §2.1)."""
        return render_contact(
            contact,
            self._template,
            self.tag_ids(contact),
            self.company_ids(contact) if contact.get("_companies") else [],
            single=single,
            merge_history=merge_history,
        )

    def dump(self) -> dict[str, Any]:
        return {
            "contacts": [
                {**self.render(c), "archived": bool(c.get("_archived"))}
                for c in self._by_id.values()
            ],
            "merged": dict(self._merged),
            "deleted": sorted(self._deleted),
            "search_pending": self.index.pending_count,
        }

    # -- internals -------------------------------------------------------------------------
    def _searchable(self, contact_id: str) -> bool:
        contact = self._by_id.get(contact_id)
        return contact is not None and not contact.get("_archived")

    def _segment_ids(self, contact: Contact) -> list[str]:
        return [s["id"] for s in self.backend.workspace.segments_for_contact(contact)]

    def _custom_field_type(self, name: str) -> str | None:
        if not name.startswith("custom_attributes."):
            return None
        attr = self.backend.workspace.get_data_attribute("contact", name.split(".", 1)[1])
        if attr is None or not attr.get("custom", True):
            return None
        return DATA_TYPE_SEARCH.get(str(attr.get("data_type")), "string")

    def _check_conflict(self, record: dict[str, Any], *, exclude: str | None) -> None:
        """409 when a user with this e-mail (any case) or external_id exists (§2.2).

        Leads never conflict: they may share e-mails with anyone.
        """
        if record.get("role") != "user":
            return
        email = record.get("email")
        for index, key in (
            (self._user_by_email, email.lower() if email else None),
            (self._user_by_ext, record.get("external_id")),
        ):
            other = index.get(key) if key else None
            if other is not None and other != exclude:
                archived = self._by_id[other].get("_archived")
                prefix = "An archived contact" if archived else "A contact"
                raise exc.Conflict(
                    f"{prefix} matching those details already exists with id={other}"
                )

    def _reindex_user(self, old: Contact | None, new: Contact | None) -> None:
        if old is not None and old["role"] == "user":
            email = old.get("email")
            if email and self._user_by_email.get(email.lower()) == old["id"]:
                del self._user_by_email[email.lower()]
            ext = old.get("external_id")
            if ext and self._user_by_ext.get(ext) == old["id"]:
                del self._user_by_ext[ext]
        if new is not None and new["role"] == "user":
            if new.get("email"):
                self._user_by_email[new["email"].lower()] = new["id"]
            if new.get("external_id"):
                self._user_by_ext[new["external_id"]] = new["id"]

    def _commit(self, new: Contact, old: Contact | None) -> None:
        """Store a new version: indexes now, search after the lag."""
        self._by_id[new["id"]] = new
        self._reindex_user(old, new)
        if not new.get("_archived"):
            self.index.put(new["id"], new)

    def _remove(self, contact: Contact) -> None:
        """Forget a contact (deleted or merged away): indexes, memberships, search."""
        cid = contact["id"]
        del self._by_id[cid]
        if contact.get("_archived"):
            self._archived -= 1
        self._reindex_user(contact, None)
        self.index.remove(cid)
        for company_id in contact.get("_companies") or ():
            self._company_members.get(company_id, {}).pop(cid, None)
        for tag_id in contact.get("_tags") or ():
            self._tag_members.get(tag_id, {}).pop(cid, None)
        if len(self._order) > 2 * len(self._by_id) + 1000:
            self._order = list(self._by_id)
            self._order_seq = [c["_seq"] for c in self._by_id.values()]
