"""Contacts that were merged away: follow Intercom's pointer to the contact they became.

A lead merged into a user (``POST /contacts/merge``, FACTS.md §2.4) answers ``GET`` / ``PUT
/contacts/{id}`` with **410 Gone**, code ``contact_merged``, and a header ``Link:
</contacts/{canonical_id}>; rel="canonical"`` (FACTS.md §2.3; Intercom resolves up to 3 merge
hops itself). Whoever holds an old id (a target that remembered a contact, a tap reading
conversations' contacts) follows that link here, up to ``MAX_HOPS`` times, so every caller
handles merges the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from intercom_api.client import IntercomClient
from intercom_api.errors import GoneError, NotFoundError

T = TypeVar("T")
MAX_HOPS = 3  # as Intercom itself does (FACTS.md §2.3); a longer chain raises the 410


def following_merges(
    contact_id: str, call: Callable[[str], T], *, max_hops: int = MAX_HOPS
) -> tuple[T, str]:
    """``call(contact_id)``; on a 410 with a canonical link, ``call`` again on the contact it
    names, up to ``max_hops`` times. Returns the result and the id it was obtained with.

    A 410 without a link, or still a 410 after ``max_hops``, is raised (``GoneError``).
    """
    current = str(contact_id)
    seen = {current}
    for hop in range(max_hops + 1):
        try:
            return call(current), current
        except GoneError as e:
            canonical = e.canonical_id
            if not canonical or canonical in seen or hop == max_hops:
                raise
            seen.add(canonical)
            current = canonical
    raise AssertionError("unreachable")  # pragma: no cover


def get_contact_following_merges(
    client: IntercomClient, contact_id: str, *, max_hops: int = MAX_HOPS
) -> tuple[dict[str, Any] | None, str]:
    """``GET /contacts/{id}`` following merges: (the contact, its id), or (None, the last id
    tried) when that contact does not exist (404: deleted, or never existed)."""
    tried: list[str] = []

    def get(cid: str) -> dict[str, Any]:
        tried.append(cid)
        return client.get(f"/contacts/{cid}")

    try:
        return following_merges(contact_id, get, max_hops=max_hops)
    except NotFoundError:
        return None, tried[-1]


def update_contact_following_merges(
    client: IntercomClient, contact_id: str, body: dict[str, Any], *, max_hops: int = MAX_HOPS
) -> tuple[dict[str, Any], str]:
    """``PUT /contacts/{id}`` following merges: (the contact as written, its id)."""
    return following_merges(
        contact_id, lambda cid: client.put(f"/contacts/{cid}", body), max_hops=max_hops
    )
