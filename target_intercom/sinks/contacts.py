"""What users and leads share: mapping, batch look-ups by search, compare, update, attach.

A batch is written in four steps: map and check every record (rejecting bad ones before any
write); resolve the companies and tags it names; find the existing contacts of the whole
batch with a few searches (``IN`` over up to 225 values each, FACTS.md §2.6 limits) rather
than one search per record; then write on the worker threads, one task per contact key so
that records about the same contact apply in input order.

``write_mode`` decides, per row, what a match allows: ``upsert`` updates or creates,
``update_only`` skips a row matching no contact (``skipped_no_match``), ``create_only`` skips
a row matching one (``skipped_exists``). Matching is the same in every mode.
"""

from __future__ import annotations

import typing as t
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from typing_extensions import override

from intercom_api import errors as api_errors
from intercom_api.contacts import following_merges, get_contact_following_merges
from target_intercom.mapping import ContactInput, email_key, map_contact
from target_intercom.outcomes import Outcome, RecordRejected
from target_intercom.sinks.base import IntercomSink, Pending
from target_intercom.workspace import is_record_error, rejection

Key = tuple[str, str]  # ("email", lower-case e-mail) or ("external_id", id)


@dataclass
class ContactState:
    """One contact key's state while its records are written in order."""

    contact: dict[str, Any] | None
    clash: str | None = None  # why a found contact must not be updated by this key


def same(current: Any, wanted: Any) -> bool:
    if current == wanted:
        return True
    if current is None or wanted is None or isinstance(current, bool) or isinstance(wanted, bool):
        return False
    return str(current) == str(wanted)


def contact_changes(
    inp: ContactInput, contact: dict[str, Any], *, skip: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The fields of ``inp`` that differ from ``contact``: the body of a minimal PUT."""
    diff: dict[str, Any] = {}
    for name, value in inp.body().items():
        if name == "custom_attributes":
            current = contact.get("custom_attributes") or {}
            wanted = {k: v for k, v in value.items() if k not in skip}
            if any(not same(current.get(k), v) for k, v in wanted.items()):
                diff[name] = wanted  # Intercom merges custom attributes on update
        elif name == "avatar":
            avatar = contact.get("avatar")
            current = avatar.get("image_url") if isinstance(avatar, dict) else avatar
            if not same(current, value):
                diff[name] = value
        elif name == "email":
            if email_key(str(contact.get("email") or "")) != email_key(value):
                diff[name] = value
        elif not same(contact.get(name), value):
            diff[name] = value
    return diff


def merge_inputs(inputs: list[ContactInput]) -> ContactInput:
    """Several records of one contact folded in order: later values win, lists add up."""
    first = inputs[0]
    merged = ContactInput(
        email=first.email,
        external_id=first.external_id,
        fields=dict(first.fields),
        custom_attributes=dict(first.custom_attributes),
        companies=list(first.companies),
        tags=list(first.tags),
        deleted=False,
        tag_ids=list(first.tag_ids),
    )
    for inp in inputs[1:]:
        merged.email = inp.email or merged.email
        merged.external_id = inp.external_id or merged.external_id
        merged.fields.update(inp.fields)
        merged.custom_attributes.update(inp.custom_attributes)
        for mine, theirs in (
            (merged.companies, inp.companies),
            (merged.tags, inp.tags),
            (merged.tag_ids, inp.tag_ids),
        ):
            mine.extend(x for x in theirs if x not in mine)
    return merged


def _embedded_ids(contact: dict[str, Any], name: str) -> set[str]:
    listed = contact.get(name)
    data = listed.get("data") if isinstance(listed, dict) else None
    return {str(x["id"]) for x in data or () if isinstance(x, dict) and x.get("id")}


def _with_embedded(contact: dict[str, Any], name: str, ids: set[str]) -> dict[str, Any]:
    listed = dict(contact.get(name) or {})
    listed["data"] = [{"id": i} for i in sorted(ids)]
    return {**contact, name: listed}


class ContactSink(IntercomSink):
    """Base of UsersSink and LeadsSink; ``role`` is the contact role they write."""

    role: t.ClassVar[str]
    depends_on = ("companies",)  # so records can attach companies of the same run
    key_fields = ("email", "external_id", "user_id")

    # -- steps ----------------------------------------------------------------------------
    @t.final
    def write_batch(self, batch: list[Pending]) -> None:
        extra, nulls = self.options.extra_columns, self.options.clear_on_null
        items = self.parse_all(
            batch, lambda r: map_contact(r, self.role, extra=extra, clear_on_null=nulls)
        )
        if self.options.delete_mode == "ignore":
            kept = []
            for item in items:
                if item.parsed.deleted:
                    self.done(item, Outcome.UNCHANGED)
                else:
                    kept.append(item)
            items = kept
        deletes = [i for i in items if i.parsed.deleted]
        writes = self.check_references(
            self.check_attributes([i for i in items if not i.parsed.deleted], "contact")
        )
        groups: OrderedDict[Key, list[Pending]] = OrderedDict()
        for item in deletes + writes:
            groups.setdefault(self.key(item.parsed), []).append(item)
        # Input order within a key (deletes were moved first above: restore it).
        for members in groups.values():
            members.sort(key=lambda p: p.line or 0)
        states = self.lookup(groups)
        self.workspace.run_all(
            lambda kv: self.write_group(kv[0], kv[1], states[kv[0]]), groups.items()
        )

    @property
    def merges_records(self) -> bool:
        """Whether records of one key are folded into one write (not for plain creates)."""
        return True

    def key(self, inp: ContactInput) -> Key:
        raise NotImplementedError

    def lookup(self, groups: OrderedDict[Key, list[Pending]]) -> dict[Key, ContactState]:
        raise NotImplementedError

    def write_one(self, item: Pending, state: ContactState) -> Outcome:
        """Write one (possibly merged) record; leave the contact as written in ``state``."""
        raise NotImplementedError

    @override
    def describe(self, item: Pending) -> str:
        inp: ContactInput = item.parsed
        return f"{self.role} {inp.email or inp.external_id}"

    def write_group(self, key: Key, items: list[Pending], state: ContactState) -> None:
        """Records of one contact, in input order: runs of updates are merged into one
        write (so a re-run of the same input writes nothing); deletes apply in between."""
        run: list[Pending] = []
        for item in [*items, None]:
            if item is not None and not item.parsed.deleted:
                if run and run[-1].mode != item.mode:  # fold only rows of one write_mode
                    self.write_merged(run, state)
                    run = []
                run.append(item)
                continue
            self.write_merged(run, state)
            run = []
            if item is not None:
                self.guarded(item, lambda it: self.remove(it, state), f"the {self.role}")
        self.workspace.remember(self.role, key, state.contact)

    def write_merged(self, items: list[Pending], state: ContactState) -> None:
        what = f"the {self.role} record"
        if len(items) <= 1 or not self.merges_records:
            for item in items:
                self.guarded(item, lambda it: self.write_one(it, state), what)
            return
        merged = Pending(items[-1].record, None, items[0].stream, items[0].line, items[0].mode)
        merged.parsed = merge_inputs([i.parsed for i in items])
        try:
            outcome = self.write_one(merged, state)
        except Exception as e:
            if not isinstance(e, RecordRejected) and not is_record_error(e):
                raise
            # One of them is refused: write them one by one so only that one is rejected.
            for item in items:
                self.guarded(item, lambda it: self.write_one(it, state), what)
            return
        # The first record carries the write; the others were folded into it.
        later = outcome
        if outcome in (Outcome.CREATED, Outcome.UPDATED):
            later = Outcome.UPDATED
        for n, item in enumerate(items):
            item.intercom_id, item.request_id = merged.intercom_id, merged.request_id
            self.done(item, outcome if n == 0 else later, self.describe(item))

    def check_references(self, items: list[Pending]) -> list[Pending]:
        """Reject records naming a company that does not exist; create missing tags."""
        refs = [r for i in items for r in i.parsed.companies]
        if refs:
            self.workspace.resolve_companies(refs)
        tags = self.workspace.tag_ids(n for i in items for n in i.parsed.tags)
        ok = []
        for item in items:
            missing = [r for r in item.parsed.companies if not self.workspace.company_ids.get(r)]
            bad_tags = [tags[n] for n in item.parsed.tags if isinstance(tags[n], RecordRejected)]
            if missing:
                self.reject(
                    item,
                    RecordRejected(
                        f"company {', '.join(map(repr, missing))} does not exist in Intercom: "
                        "send it in the companies stream first (by company_id) or fix the "
                        "reference (your company_id or Intercom's company id)",
                        code="company_not_found",
                    ),
                )
            elif bad_tags:
                self.reject(item, t.cast(RecordRejected, bad_tags[0]))
            else:
                item.parsed.tag_ids = [t.cast(str, tags[n]) for n in item.parsed.tags]
                ok.append(item)
        return ok

    # -- searching ------------------------------------------------------------------------
    def search(self, field: str, values: list[str], role: str | None = None) -> list[dict]:
        """Contacts of ``role`` (default: this sink's) whose ``field`` is one of ``values``."""
        return self.workspace.search_contacts(field, values, role or self.role)

    @staticmethod
    def skip(item: Pending, state: ContactState) -> Outcome | None:
        """The outcome of a row its ``write_mode`` does not let through (None: write it)."""
        if item.mode == "update_only" and state.contact is None:
            return Outcome.SKIPPED_NO_MATCH
        if item.mode == "create_only" and state.contact is not None:
            item.intercom_id = _id(state.contact)
            return Outcome.SKIPPED_EXISTS
        return None

    # -- writing --------------------------------------------------------------------------
    def create_body(self, inp: ContactInput) -> dict[str, Any]:
        return {"role": self.role, **inp.create_body()}

    def create(self, item: Pending, *, idempotent: bool) -> dict[str, Any]:
        """POST /contacts for ``item`` (a dry run invents the contact, without id)."""
        body = self.create_body(item.parsed)
        if self.dry_run:
            return {"id": None, **body}
        contact = self.send(item, "POST", "/contacts", body, idempotent=idempotent)
        item.intercom_id = _id(contact)
        return contact

    def update(
        self, item: Pending, contact: dict[str, Any], skip: frozenset[str] = frozenset()
    ) -> tuple[dict[str, Any], Outcome]:
        """PUT the fields that differ; UNCHANGED (no call) when none does."""
        diff = contact_changes(item.parsed, contact, skip=skip)
        if not diff:
            return contact, Outcome.UNCHANGED
        if self.dry_run:
            return {**contact, **diff}, Outcome.UPDATED
        # A contact merged into another answers 410: write the one it became (FACTS §2.3).
        written, item.intercom_id = following_merges(
            str(contact["id"]),
            lambda cid: self.send(item, "PUT", f"/contacts/{cid}", diff),
        )
        return written, Outcome.UPDATED

    def attach(self, item: Pending, contact: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """Attach the record's companies and tags the contact does not have yet."""
        inp: ContactInput = item.parsed
        changed = False
        for name, wanted, one in (
            ("companies", [self.workspace.company_ids[r] for r in inp.companies], "company"),
            ("tags", inp.tag_ids, "tag"),
        ):
            have = _embedded_ids(contact, name)
            new = [i for i in wanted if i and i not in have]
            for target_id in new:
                if self.dry_run:
                    continue
                try:
                    # Attaching twice is harmless: retrying is safe.
                    self.send(
                        item,
                        "POST",
                        f"/contacts/{contact['id']}/{name}",
                        {"id": target_id},
                        idempotent=True,
                    )
                except api_errors.IntercomError as e:
                    if not is_record_error(e):
                        raise
                    raise RecordRejected(
                        f"the {self.role} {contact['id']} was written, but Intercom refused "
                        f"to attach {one} {target_id}: {e.message}",
                        code=e.code,
                        status=e.status,
                        request_id=e.request_id,
                    ) from e
            if new:
                contact = _with_embedded(contact, name, have | set(new))
                changed = True
        return contact, changed

    def resolve_conflict(
        self, item: Pending, error: api_errors.ConflictError, skip: frozenset[str] = frozenset()
    ) -> tuple[dict[str, Any], Outcome]:
        """A 409 on create: the contact exists (search lagged, or it is archived), FACTS §2.2.

        Update the contact the error names (its id is in the message; else search), after
        unarchiving it when it is archived.
        """
        inp: ContactInput = item.parsed
        contact_id = error.existing_id
        if contact_id is None:
            for field, value in (("external_id", inp.external_id), ("email", inp.email)):
                found = self.search(field, [value], role="user") if value else []
                if found:
                    contact_id = str(found[0]["id"])
                    break
        if contact_id is None:
            raise rejection(error, f"the {self.role} (409, and no contact found by search)")
        client = self.workspace.client
        archived = "archived" in (error.message or "").lower()
        if archived and not self.dry_run:
            self.send(item, "POST", f"/contacts/{contact_id}/unarchive", idempotent=True)
        contact, item.intercom_id = get_contact_following_merges(client, contact_id)
        if contact is None:  # deleted since Intercom answered 409
            raise rejection(error, f"the {self.role} (409 naming a contact that is now gone)")
        why = self.clash(inp, contact)
        if why:
            raise RecordRejected(why, code="conflict", status=409, request_id=error.request_id)
        contact, outcome = self.update(item, contact, skip)
        return contact, Outcome.UPDATED if archived else outcome

    def clash(self, inp: ContactInput, contact: dict[str, Any]) -> str | None:
        """Why ``contact`` (found by one key) must not be overwritten by this record."""
        if contact.get("role") != self.role:
            return (
                f"the matching contact {contact.get('id')} is a {contact.get('role')}, not a "
                f"{self.role}: send the record to the {contact.get('role')}s stream"
            )
        theirs = contact.get("external_id")
        if inp.external_id and theirs and theirs != inp.external_id:
            return (
                f"e-mail {inp.email} belongs to contact {contact.get('id')} with external_id "
                f"{theirs!r}, not {inp.external_id!r}: fix the record's e-mail or external_id"
            )
        return None

    def remove(self, item: Pending, state: ContactState) -> Outcome:
        """A record carrying _sdc_deleted_at: archive or delete its contact (delete_mode)."""
        contact = state.contact
        if contact is None:
            return Outcome.UNCHANGED  # nothing to remove (archived ones are not searchable)
        archive = self.options.delete_mode == "archive"
        outcome = Outcome.ARCHIVED if archive else Outcome.DELETED
        if not self.dry_run:
            item.intercom_id = _id(contact)
            try:
                if archive:
                    path = f"/contacts/{contact['id']}/archive"
                    self.send(item, "POST", path, idempotent=True)
                else:
                    self.send(item, "DELETE", f"/contacts/{contact['id']}")
            except api_errors.NotFoundError:
                outcome = Outcome.UNCHANGED
        state.contact = None
        return outcome


def _id(contact: dict[str, Any] | None) -> str | None:
    """A contact's Intercom id (None for a dry run's invented one)."""
    cid = (contact or {}).get("id")
    return str(cid) if cid else None
