"""users: upsert, matched by external_id (the 1.x ``user_id``) when present, else by e-mail.

Found users are compared with the record and updated only when a field differs; others are
created with role ``user``. A 409 on create (search lagged, or the user is archived, FACTS.md
§2.2) is resolved by updating the contact the error names, never by failing or duplicating.
POST /contacts is sent as idempotent: Intercom refuses a second user with the same e-mail or
external_id, so a retried create that had in fact been applied comes back as that 409.

``write_mode: update_only`` never creates (``skipped_no_match``); ``create_only`` never
updates (``skipped_exists``), and a 409 on its create means the user exists: skipped too.
"""

from __future__ import annotations

from collections import OrderedDict

from typing_extensions import override

from intercom_api import errors as api_errors
from target_intercom.mapping import ContactInput, email_key
from target_intercom.outcomes import Outcome, RecordRejected
from target_intercom.sinks.base import Pending
from target_intercom.sinks.contacts import ContactSink, ContactState, Key


class UsersSink(ContactSink):
    """Writes the ``users`` stream."""

    role = "user"

    @override
    def key(self, inp: ContactInput) -> Key:
        if inp.external_id:
            return ("external_id", inp.external_id)
        return ("email", email_key(inp.email or ""))

    @override
    def lookup(self, groups: OrderedDict[Key, list[Pending]]) -> dict[Key, ContactState]:
        """By external_id first; keys not found that way (and e-mail keys) by e-mail."""
        states: dict[Key, ContactState] = {}
        todo: list[Key] = []
        for key in groups:
            known = self.workspace.recall(self.role, key)
            if known is not None:
                states[key] = ContactState(known)
            else:
                todo.append(key)
        ext_ids = [v for f, v in todo if f == "external_id"]
        by_ext = {
            c["external_id"]: c for c in self.search("external_id", ext_ids) if c.get("external_id")
        }
        emails: dict[Key, str] = {}
        for key in todo:
            if key[0] == "external_id" and key[1] in by_ext:
                states[key] = ContactState(by_ext[key[1]])
                continue
            email = next((i.parsed.email for i in groups[key] if i.parsed.email), None)
            if email:
                emails[key] = email
        by_email: dict[str, dict] = {}
        for contact in self.search("email", list(dict.fromkeys(emails.values()))):
            if contact.get("email"):
                by_email.setdefault(email_key(contact["email"]), contact)
        for key in todo:
            if key in states:
                continue
            contact = by_email.get(email_key(emails[key])) if key in emails else None
            why = self.clash(groups[key][0].parsed, contact) if contact else None
            states[key] = ContactState(None, clash=why) if why else ContactState(contact)
        return states

    @override
    def write_one(self, item: Pending, state: ContactState) -> Outcome:
        if state.clash:
            raise RecordRejected(state.clash, code="conflict")
        skipped = self.skip(item, state)
        if skipped is not None:
            return skipped
        contact = state.contact
        if contact is None:
            try:
                contact, outcome = self.create(item, idempotent=True), Outcome.CREATED
            except api_errors.ConflictError as e:
                if item.mode == "create_only":  # it exists (search lagged, or archived)
                    item.intercom_id = e.existing_id
                    return Outcome.SKIPPED_EXISTS
                contact, outcome = self.resolve_conflict(item, e)
        else:
            item.intercom_id = str(contact["id"]) if contact.get("id") else None
            contact, outcome = self.update(item, contact)
        state.contact = contact  # written: a failure to attach must not re-create it
        contact, attached = self.attach(item, contact)
        if attached and outcome is Outcome.UNCHANGED:
            outcome = Outcome.UPDATED
        state.contact = contact
        return outcome
