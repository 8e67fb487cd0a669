"""events: data events (POST /events: 202 and an empty body).

Intercom "may" ignore an event it already has, and identifies one by the workspace, the
**contact's external id**, the event name and created_at (FACTS.md §4, [S16:16059]). So:

- an event is sent once, as a write that is *not* retried blindly: when the request was sent
  but its answer lost (a dropped connection, a 5xx), the event is ``ambiguous``: it is kept
  in the rejects file with the reason and never re-sent by the target (its contact may have
  no external id, and then a second send records it twice);
- an event whose contact has no external id (sent by ``email`` or ``id``) is sent, and the
  summary says how many such events a re-run of the same rows would record again. To make
  re-runs safe, give those contacts an external id and send ``user_id``.

Events name their contact, which must exist: the users and leads of the same run are
written first. The contacts of events sent by ``email`` or ``id`` are looked up (a few
searches per batch) to know whether they have an external id; a dry run also looks up the
contacts of ``user_id`` events, so that it rejects what Intercom would (404). Events cannot
be deleted. ``write_mode`` does not apply: an event is a fact, always sent.
"""

from __future__ import annotations

from typing import Any

from typing_extensions import override

from intercom_api import errors as api_errors
from target_intercom.mapping import email_key, map_event
from target_intercom.outcomes import Outcome, RecordRejected
from target_intercom.sinks.base import IntercomSink, Pending

ContactRef = tuple[str, str]  # ("user_id" | "id" | "email", value)
NO_DEDUPE = "no_dedupe"  # the tally note for events Intercom cannot de-duplicate
NO_DEDUPE_TEXT = (
    "sent for contacts without an external id (by e-mail or Intercom id): Intercom "
    "de-duplicates events only on the contact's external id, so a re-run of these rows "
    "records them again. To make re-runs safe, give those contacts an external id and send "
    "it as user_id"
)
# How each way of naming a contact is searched (events by e-mail find users only [S16:16059]).
_SEARCH = {"user_id": ("external_id", "user"), "email": ("email", "user"), "id": ("id", None)}


def _normal(ref: ContactRef) -> ContactRef:
    return (ref[0], email_key(ref[1])) if ref[0] == "email" else ref


class EventsSink(IntercomSink):
    """Writes the ``events`` stream."""

    depends_on = ("users", "leads")
    key_fields = ("event_name", "created_at", "user_id", "external_id", "id", "email")

    @override
    def write_batch(self, batch: list[Pending]) -> None:
        extra = self.options.extra_columns
        items = self.parse_all(batch, lambda r: map_event(r, extra=extra))
        contacts = self.find_contacts([i for i in items if not i.parsed.deleted])
        self.workspace.run_all(
            lambda i: self.guarded(i, lambda it: self.write_one(it, contacts), "the event"),
            items,
        )

    @override
    def describe(self, item: Pending) -> str:
        return f"event {item.parsed.body['event_name']}"

    def find_contacts(self, items: list[Pending]) -> dict[ContactRef, dict[str, Any] | None]:
        """The contacts the events name (None: not found), for the kinds looked up."""
        kinds = ("user_id", "email", "id") if self.dry_run else ("email", "id")
        wanted: dict[str, list[str]] = {k: [] for k in kinds}
        for item in items:
            kind, value = item.parsed.contact
            if kind in wanted and value not in wanted[kind]:
                wanted[kind].append(value)
        found: dict[ContactRef, dict[str, Any] | None] = {}
        for kind, values in wanted.items():
            field, role = _SEARCH[kind]
            for value in values:
                found[_normal((kind, value))] = self._remembered(kind, value)
            todo = [v for v in values if found[_normal((kind, v))] is None]
            for contact in self.workspace.search_contacts(field, todo, role):
                value = contact.get(field)
                ref = _normal((kind, str(value)))
                if value is not None and found.get(ref) is None:
                    found[ref] = contact
        return found

    def _remembered(self, kind: str, value: str) -> dict[str, Any] | None:
        """A contact this run wrote (search lags writes, FACTS.md §2.6)."""
        if kind == "id":
            return None
        key = ("external_id", value) if kind == "user_id" else ("email", email_key(value))
        for role in ("user", "lead"):
            contact = self.workspace.recall(role, key)
            if contact is not None:
                return contact
        return None

    def write_one(
        self, item: Pending, contacts: dict[ContactRef, dict[str, Any] | None]
    ) -> Outcome:
        if item.parsed.deleted:
            if self.options.delete_mode != "ignore":
                raise RecordRejected(
                    "_sdc_deleted_at is set but Intercom events cannot be deleted: drop the "
                    "record or set delete_mode to ignore"
                )
            return Outcome.UNCHANGED
        ref = item.parsed.contact
        looked_up = _normal(ref) in contacts
        contact = contacts.get(_normal(ref))
        if contact is not None and contact.get("id"):
            item.intercom_id = str(contact["id"])
        if self.dry_run and looked_up and contact is None:
            # What Intercom answers for an event naming no contact (FACTS.md §4).
            raise RecordRejected(
                f"Intercom would refuse the event: no contact has {ref[0]} {ref[1]!r} (404 User "
                "Not Found); write the contact first (users / leads stream) or fix the event's "
                "user_id / email / id",
                code="not_found",
                status=404,
            )
        if not self.dry_run:
            try:
                # Not idempotent: a re-sent event is recorded twice unless Intercom
                # de-duplicates it, which it does only for contacts with an external id.
                self.send(item, "POST", "/events", item.parsed.body, idempotent=False)
            except api_errors.AmbiguousWriteError as e:
                raise RecordRejected(
                    self.ambiguous_reason(ref, contact, e),
                    code=e.code,
                    status=e.status,
                    request_id=e.request_id,
                    outcome=Outcome.AMBIGUOUS,
                ) from e
        if ref[0] != "user_id" and not (contact or {}).get("external_id"):
            self.run.tally.note(self.stream_name, NO_DEDUPE)
            item.note = (
                "its contact has no external id: Intercom cannot de-duplicate this event, so "
                "a re-run of this row records it again"
            )
        return Outcome.CREATED

    @staticmethod
    def ambiguous_reason(
        ref: ContactRef, contact: dict[str, Any] | None, error: api_errors.IntercomError
    ) -> str:
        dedupe = ref[0] == "user_id" or bool((contact or {}).get("external_id"))
        if dedupe:
            replay = (
                "its contact has an external id, so Intercom de-duplicates it: replaying this "
                "record is safe"
            )
        else:
            replay = (
                "its contact has no external id, so Intercom cannot de-duplicate it: check the "
                "contact's events (GET /events?type=user&intercom_user_id=...) before replaying "
                "this record, or it may be recorded twice"
            )
        return (
            f"the event was sent but its outcome is unknown ({error.message}); it was not "
            f"re-sent: {replay}"
        )
