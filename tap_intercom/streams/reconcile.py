"""Stream `deleted_contacts` (opt-in): contacts gone from Intercom since the last reconcile.

Intercom says nothing when a contact is deleted or merged away: it just stops appearing in
list and search (FACTS.md §2.4, §2.5), so the ``users`` and ``leads`` tables keep it
forever. This stream lists the id of every contact (``GET /contacts``, 150 a page, the
cheapest listing: one call per 150 contacts, as search would cost), compares with the ids
the previous reconcile saw, and asks Intercom about each id that went missing
(``GET /contacts/{id}``): 404 is ``deleted``, 410 is ``merged`` (into the contact its Link
header names), 200 is ``archived`` (Intercom hides archived contacts from lists), listed
under the other role is ``role_changed`` (a lead that became a user). Each becomes one
record with ``_sdc_deleted_at`` (when this reconcile started), for a warehouse to
soft-delete the row (``role`` says which table). An id missing from the list whose contact says
``archived: false`` is kept and not reported.

Where the previous id set lives: in the stream's state, one compact blob per role (the
ids sorted, as 12-byte binary when they are Intercom's 24-hex ids, zlib-compressed,
base64): about 1 MB per 100,000 contacts, carried by every STATE message of the run. So
give this stream its own extractor (README, *Recipes*): its state is written a few times a
run, and a state backend (S3, Postgres) keeps it for whichever worker runs next, which a
local file would not. The first run (or one after ``--full-refresh``) only remembers.
"""

from __future__ import annotations

import base64
import binascii
import logging
import zlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from typing_extensions import override

from intercom_api import errors
from tap_intercom.client import IntercomStream

if TYPE_CHECKING:
    from singer_sdk.helpers import types

log = logging.getLogger("tap_intercom")

LIST_PATH = "/contacts"
PER_PAGE = 150  # Intercom's maximum (FACTS.md §2.5)
ROLES = ("user", "lead")
STATE_KEY = "contact_ids"  # in this stream's state: {role: {encoding, count, data}}


def encode_ids(ids: Iterable[str]) -> dict[str, Any]:
    """A set of ids as a compact, JSON-able blob (sorted, binary when all are 24-hex)."""
    ordered = sorted(set(ids))
    try:
        if not all(len(i) == 24 for i in ordered):
            raise ValueError
        raw, encoding = b"".join(bytes.fromhex(i) for i in ordered), "hex12-zlib-b64"
    except ValueError:
        raw, encoding = "\n".join(ordered).encode(), "lines-zlib-b64"
    data = base64.b64encode(zlib.compress(raw, 6)).decode("ascii")
    return {"encoding": encoding, "count": len(ordered), "data": data}


def decode_ids(blob: Any) -> set[str]:
    """The ids of ``encode_ids``'s blob; ValueError when it is not one."""
    if not isinstance(blob, dict) or not isinstance(blob.get("data"), str):
        raise ValueError("not an id blob")
    try:
        raw = zlib.decompress(base64.b64decode(blob["data"]))
    except (binascii.Error, zlib.error) as e:
        raise ValueError(f"unreadable id blob: {e}") from None
    if blob.get("encoding") == "hex12-zlib-b64":
        if len(raw) % 12:
            raise ValueError("truncated id blob")
        ids = {raw[i : i + 12].hex() for i in range(0, len(raw), 12)}
    elif blob.get("encoding") == "lines-zlib-b64":
        ids = set(raw.decode().split("\n")) - {""}
    else:
        raise ValueError(f"unknown id blob encoding {blob.get('encoding')!r}")
    if blob.get("count") not in (None, len(ids)):
        raise ValueError("id blob count mismatch")
    return ids


class DeletedContactsStream(IntercomStream):
    """Contacts deleted, merged away, archived or re-roled since the previous reconcile."""

    name = "deleted_contacts"
    selected_by_default = False  # lists every contact: chosen, not implied

    @property
    @override
    def emit_activate_version_messages(self) -> bool:
        # Each run emits only what went missing since the last: a target honouring
        # ACTIVATE_VERSION would drop every earlier run's deletions.
        return False

    @override
    def get_records(self, context: types.Context | None) -> Iterable[dict[str, Any]]:
        state = self.stream_state
        previous = self._previous(state)
        started = self.run.sync_start()
        current: dict[str, set[str]] = {role: set() for role in ROLES}
        listed = 0
        for page in self.client.iter_pages(LIST_PATH, list_key="data", per_page=PER_PAGE):
            self.extracted_now()
            for contact in page:
                role, cid = contact.get("role"), contact.get("id")
                if role in current and cid:
                    current[role].add(str(cid))
                    listed += 1
        if previous is None:
            log.info(
                "%s: first reconcile: %d users and %d leads remembered; deletions are "
                "reported from the next run",
                self.name,
                len(current["user"]),
                len(current["lead"]),
            )
        else:
            yield from self._gone(previous, current, started)
        state[STATE_KEY] = {role: encode_ids(current[role]) for role in ROLES}
        log.info("%s: %d contacts listed in %d calls", self.name, listed, -(-listed // PER_PAGE))

    def _previous(self, state: dict[str, Any]) -> dict[str, set[str]] | None:
        saved = state.get(STATE_KEY)
        if saved is None:
            return None
        try:
            return {role: decode_ids(saved.get(role)) for role in ROLES}
        except (AttributeError, ValueError) as e:
            log.warning("%s: the saved id set is unreadable (%s); starting over", self.name, e)
            return None

    def _gone(
        self, previous: dict[str, set[str]], current: dict[str, set[str]], started: int
    ) -> Iterable[dict[str, Any]]:
        missing = [(role, cid) for role in ROLES for cid in sorted(previous[role] - current[role])]
        moved = {cid for role, cid in missing if cid in current[_other(role)]}
        ask = sorted({cid for _, cid in missing} - moved)
        verdicts = dict(zip(ask, self.run.pool.map(self._verdict, ask), strict=True))
        counts: dict[str, int] = {}
        for role, cid in missing:
            reason, merged_into = ("role_changed", None) if cid in moved else verdicts[cid]
            if reason is None:
                current[role].add(cid)  # still live: the list missed it; keep it
                continue
            counts[reason] = counts.get(reason, 0) + 1
            record = {
                "id": cid,
                "role": role,
                "reason": reason,
                "merged_into_id": merged_into,
                "_sdc_deleted_at": started,
            }
            self._convert(record)
            yield record
        log.info("%s: gone since the last reconcile: %s", self.name, counts or "none")

    def _verdict(self, contact_id: str) -> tuple[str | None, str | None]:
        """(reason, merged into) for an id missing from the list; (None, None) if live."""
        try:
            contact = self.client.get(f"{LIST_PATH}/{quote(contact_id, safe='')}")
        except errors.NotFoundError:
            return "deleted", None
        except errors.GoneError as e:
            return "merged", e.canonical_id
        if contact.get("archived") is not False:
            # Still there but no longer listed: Intercom hides archived contacts from list
            # and search (the contact object itself may not say so).
            return "archived", None
        log.warning(
            "%s: contact %s is live but was not listed by GET /contacts; kept",
            self.name,
            contact_id,
        )
        return None, None


def _other(role: str) -> str:
    return "lead" if role == "user" else "user"
