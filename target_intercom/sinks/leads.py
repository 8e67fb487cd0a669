"""leads: matched by e-mail (default), by a key attribute, or always created (lead_mode).

Singer delivery is at-least-once and Intercom does not de-duplicate leads (several leads may
share an e-mail, FACTS.md §2.2), so a re-delivered row must find the lead it created.

- ``lead_mode: email`` (default): a row matches the oldest lead with its e-mail (compared
  case-insensitively). Nothing is added to the workspace. Trade-off: a lead someone else
  created with that e-mail (the Messenger, a form) is the one updated.
- ``lead_mode: key_attribute``: only leads this target created match. Each lead it creates
  carries the contact attribute ``lead_key_attribute`` (default ``target_intercom_key``) set
  to its key, the lower-cased e-mail, in the one POST /contacts, so no lead exists without
  it, and it lives in the workspace, not on the machine running the target (Meltano often
  runs in throw-away containers). This creates that attribute in the workspace and stores
  e-mails in it, so it needs consent: ``create_lead_key_attribute: true``.
- ``lead_mode: create``: every row creates a lead (the 1.x "create a lead" action); a
  re-delivered row creates another one. Nothing is looked up.

How a matching mode stays exact:
- **Re-deliveries across runs** (a crash after writing, before STATE): the batch's leads are
  found by search, ``role = lead AND email IN [...]`` (then filtered on the key attribute).
- **Search lag** (a just-written contact is not searchable for minutes, §2.6): within a run
  the contacts written are remembered (``Workspace.remember``), so a re-sent record in a later
  batch is matched without search.
- **An ambiguous create** (the connection dropped after the request was sent: the lead may
  exist): never retried blindly. The target polls search for a (marked) lead with that
  e-mail created since the attempt (``reconcile_timeout``, default 300 s, covers the lag).
  Found: the record is done. Not found after a whole lag window and the answer was a 503
  (refused, not processed): sent again, up to ``max_retries`` sends in all. Otherwise (a
  dropped connection, a cut body, a 500: the lead may exist, search may lag more): the batch
  fails without STATE, and the re-run, later than the lag, finds the lead if it was written.

Limit: a re-run started within Intercom's search delay (minutes) of a crash that struck
after a lead was created but before STATE cannot see that lead yet and creates it again.
Scheduled re-runs (hourly) are far outside that window; an immediate automatic retry is not.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from typing_extensions import override

from intercom_api import errors as api_errors
from target_intercom.mapping import ContactInput, email_key
from target_intercom.outcomes import Outcome
from target_intercom.sinks.base import Pending
from target_intercom.sinks.contacts import ContactSink, ContactState, Key

_CLOCK_SKEW = 5  # seconds of slack between our clock and Intercom's created_at


class UnresolvedWriteError(RuntimeError):
    """A lead create whose outcome stayed unknown: the batch must not be acknowledged."""


class LeadsSink(ContactSink):
    """Writes the ``leads`` stream."""

    role = "lead"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._marker_ready = False
        self._created_ids: set[str] = set()

    @property
    def marker(self) -> str | None:
        """The key attribute (lead_mode key_attribute only)."""
        return self.options.lead_key_attribute if self.idempotent else None

    @property
    def idempotent(self) -> bool:
        """Whether rows are matched to existing leads (every lead_mode but create)."""
        return self.options.lead_mode != "create"

    @property
    @override
    def merges_records(self) -> bool:
        return self.idempotent

    @property
    def skip_attributes(self) -> frozenset[str]:
        """Attributes a row never overwrites: the key attribute."""
        return frozenset({self.marker}) if self.marker else frozenset()

    @override
    def key(self, inp: ContactInput) -> Key:
        return ("email", email_key(inp.email or ""))

    def ensure_marker(self) -> None:
        """The key attribute must exist before the first create (create_lead_key_attribute
        consented to creating it)."""
        if self._marker_ready or not self.marker:
            return
        if self.dry_run:
            types, _ = self.workspace.prepare_attributes("contact", {self.marker: "string"})
            if types is not None and self.marker not in types:
                self.logger.info("dry run: would create contact attribute %r", self.marker)
        elif not self.workspace.create_attribute("contact", self.marker, "string"):
            raise RuntimeError(
                f"Cannot create the contact attribute {self.marker!r} that keys the leads this "
                "target creates: set lead_key_attribute to an existing string attribute, or "
                "set lead_mode: email to match leads by e-mail alone"
            )
        self._marker_ready = True

    def pick(self, candidates: list[dict[str, Any]], key: str) -> dict[str, Any] | None:
        """The lead a key names: the oldest marked one (or oldest of all, without marker)."""
        if self.marker:
            candidates = [
                c
                for c in candidates
                if str((c.get("custom_attributes") or {}).get(self.marker) or "") == key
            ]
        return min(candidates, key=lambda c: (c.get("created_at") or 0, str(c["id"])), default=None)

    @override
    def lookup(self, groups: OrderedDict[Key, list[Pending]]) -> dict[Key, ContactState]:
        self.ensure_marker()
        states: dict[Key, ContactState] = {}
        todo: dict[Key, str] = {}
        for key, items in groups.items():
            wanted = self.idempotent or any(i.parsed.deleted for i in items)
            known = self.workspace.recall(self.role, key) if wanted else None
            if known is not None:
                states[key] = ContactState(known)
            elif wanted:
                todo[key] = items[0].parsed.email
            else:
                states[key] = ContactState(None)
        by_email: dict[str, list[dict[str, Any]]] = {}
        for contact in self.search("email", list(dict.fromkeys(todo.values()))):
            if contact.get("email"):
                by_email.setdefault(email_key(contact["email"]), []).append(contact)
        for key in todo:
            states[key] = ContactState(self.pick(by_email.get(key[1], []), key[1]))
        return states

    @override
    def create_body(self, inp: ContactInput) -> dict[str, Any]:
        body = super().create_body(inp)
        if self.marker:  # lead_mode key_attribute, consented (create_lead_key_attribute)
            body["custom_attributes"] = {
                **body.get("custom_attributes", {}),
                self.marker: email_key(inp.email or ""),
            }
        return body

    @override
    def write_one(self, item: Pending, state: ContactState) -> Outcome:
        if not self.idempotent:
            state = ContactState(None)  # lead_mode create: every row is a new lead
        skipped = self.skip(item, state)
        if skipped is not None:
            return skipped
        contact = state.contact
        if contact is None:
            contact, outcome = self.create_lead(item)
            if outcome is Outcome.SKIPPED_EXISTS:
                return outcome
        else:
            item.intercom_id = str(contact["id"]) if contact.get("id") else None
            contact, outcome = self.update(item, contact, self.skip_attributes)
        state.contact = contact  # written: a failure to attach must not re-create it
        contact, attached = self.attach(item, contact)
        if attached and outcome is Outcome.UNCHANGED:
            outcome = Outcome.UPDATED
        state.contact = contact
        return outcome

    def create_lead(self, item: Pending) -> tuple[dict[str, Any], Outcome]:
        inp: ContactInput = item.parsed
        if self.dry_run:
            return self.create(item, idempotent=False), Outcome.CREATED
        client = self.workspace.client
        # Sends of one lead whose outcome stays unknown, each reconciled first: max_retries.
        attempts = max(1, client.settings.max_retries)
        for attempt in range(1, attempts + 1):
            started = client.server_time() or time.time()
            try:
                # Not idempotent: Intercom would store a second lead.
                contact = self.create(item, idempotent=False)
                break
            except api_errors.ConflictError as e:  # external_id of an existing contact
                if item.mode == "create_only":
                    item.intercom_id = e.existing_id
                    return {}, Outcome.SKIPPED_EXISTS
                return self.resolve_conflict(item, e, self.skip_attributes)
            except api_errors.AmbiguousWriteError as e:
                found = self.reconcile(inp, started)
                if found is not None:
                    contact = found
                    item.intercom_id = str(found["id"])
                    break
                # Not in search after a whole lag window. Only a 503 (service unavailable:
                # refused, not processed) makes a resend safe; after a dropped connection,
                # a cut body or a 500 the lead may exist and search may simply lag more.
                if e.status != 503 or attempt == attempts:
                    raise UnresolvedWriteError(
                        f"line {item.line}: creating the lead {inp.email} had an unknown "
                        f"outcome {attempt} times ({e.message}) and no such lead appeared in "
                        f"search within {self.options.reconcile_timeout:g} s. The batch is "
                        "not acknowledged: re-run later (after Intercom's search delay) and "
                        "the lead will be matched instead of duplicated."
                    ) from e
        self._created_ids.add(str(contact.get("id")))
        return contact, Outcome.CREATED

    def reconcile(self, inp: ContactInput, started: float) -> dict[str, Any] | None:
        """Look for the lead an ambiguous create may have written (see module docstring)."""
        key = email_key(inp.email or "")
        deadline = time.monotonic() + self.options.reconcile_timeout
        delay = 1.0
        while True:
            candidates = [
                c
                for c in self.search("email", [inp.email or key])
                if email_key(c.get("email") or "") == key
                and str(c.get("id")) not in self._created_ids
                and (c.get("created_at") or 0) >= started - _CLOCK_SKEW
            ]
            found = self.pick(candidates, key)
            if found is not None:
                self.logger.info("lead %s: the ambiguous create had been applied", found["id"])
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 15.0)
