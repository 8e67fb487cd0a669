"""WorkspaceStore: the app, admins, teams, tags, segments, articles, activity logs.

Data attributes and data events live in their own modules (``data_attributes``,
``events``); this store owns them and answers the cross-store questions other stores ask
(``get_tag``, ``get_data_attribute``, ``get_admin``, ``segments_for_contact``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.models.data_attributes import DataAttributes
from intercom_sandbox.models.errors import AdminNotFound, TeamNotFound
from intercom_sandbox.models.events import Events

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

ADMIN_ID_BASE = 991_000_000
TAG_ID_BASE = 5_000_000
TEAM_ID_BASE = 6_000_000
ARTICLE_ID_BASE = 7_000_000
AVATAR_URL = "https://static.intercomassets.com/assets/default-avatars/admins/128.png"

# Segment rules: ("all",) | ("role", "user"|"lead") | ("tag", tag_id) | ("has", field)
# | ("equals", field, value). A tag rule makes the tag undeletable [S16:18295].
Rule = tuple[Any, ...]


class WorkspaceStore:
    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.admins: dict[str, dict[str, Any]] = {}
        self.teams: dict[str, dict[str, Any]] = {}
        self.tags: dict[str, dict[str, Any]] = {}
        self._tag_by_name: dict[str, str] = {}
        self.segments: dict[str, dict[str, Any]] = {}
        self._matchers: dict[str, Any] = {}  # segment id -> predicate(contact)
        self.articles: dict[str, dict[str, Any]] = {}
        self.activity_logs: list[dict[str, Any]] = []
        self.data_attributes = DataAttributes(backend)
        self.events = Events(backend)
        # Per seed kind, how many the seeder made so far: keeps names and e-mails unique.
        self.seed_serial: dict[str, int] = {}
        self.app: dict[str, Any] = {
            "type": "app",
            "id_code": backend.workspace_id,
            "name": "Sandbox Workspace",
            "created_at": backend.now(),
            "secure": False,
            "identity_verification": False,
            "timezone": None,  # the workspace timezone setting, filled in by render_me
            "region": "US",
        }
        # Every workspace has the admin whose token the API is called with (GET /me).
        self.owner = self.create_admin(
            name="Sandbox Owner", email="owner@sandbox.example", job_title="Founder"
        )

    # -- admins -----------------------------------------------------------------------------
    def create_admin(
        self,
        *,
        name: str,
        email: str,
        job_title: str | None = None,
        has_inbox_seat: bool = True,
        away_mode_enabled: bool = False,
    ) -> dict[str, Any]:
        admin = {
            "id": self.backend.new_numeric_id(ADMIN_ID_BASE),
            "name": name,
            "email": email,
            "job_title": job_title,
            "away_mode_enabled": away_mode_enabled,
            "away_mode_reassign": False,
            "has_inbox_seat": has_inbox_seat,
            "team_ids": [],
            "avatar": AVATAR_URL,
            "created_at": self.backend.now(),
        }
        self.admins[admin["id"]] = admin
        if len(self.admins) > 1:  # the owner's own creation is not logged
            self.log_activity(self.owner, "app_admin_join", f"{name} joined the workspace.", {})
        return admin

    def get_admin(self, admin_id: str | int | None) -> dict[str, Any] | None:
        return None if admin_id is None else self.admins.get(str(admin_id))

    def require_admin(self, admin_id: str) -> dict[str, Any]:
        admin = self.get_admin(admin_id)
        if admin is None:
            raise AdminNotFound()
        return admin

    def render_admin(self, admin: dict[str, Any], *, avatar: bool = False) -> dict[str, Any]:
        """The spec's ``admin`` object [S16 admin]; ``avatar`` only with display_avatar."""
        out: dict[str, Any] = {
            "type": "admin",
            "id": admin["id"],
            "name": admin["name"],
            "email": admin["email"],
        }
        if admin["job_title"] is not None:
            out["job_title"] = admin["job_title"]
        out.update(
            away_mode_enabled=admin["away_mode_enabled"],
            away_mode_reassign=admin["away_mode_reassign"],
            away_status_reason_id=None,
            has_inbox_seat=admin["has_inbox_seat"],
            team_ids=[int(t) for t in admin["team_ids"]],
        )
        if avatar:
            out["avatar"] = admin["avatar"]
        return out

    def render_me(self) -> dict[str, Any]:
        """GET /me: the token's admin with the app object [S16 admin_with_app]."""
        admin = self.owner
        out = self.render_admin(admin)
        out.pop("away_status_reason_id")
        out["email_verified"] = True
        # The workspace timezone (Settings > General): contact search's calendar days.
        out["app"] = {**self.app, "timezone": self.backend.settings.timezone}
        out["avatar"] = {"type": "avatar", "image_url": admin["avatar"]}
        return out

    def admin_reference(self, admin: dict[str, Any]) -> dict[str, Any]:
        """An admin as a conversation author: ``{type, id, name, email}``."""
        return {"type": "admin", "id": admin["id"], "name": admin["name"], "email": admin["email"]}

    # -- teams ------------------------------------------------------------------------------
    def create_team(self, name: str, admin_ids: Iterable[str] = ()) -> dict[str, Any]:
        team = {
            "id": self.backend.new_numeric_id(TEAM_ID_BASE),
            "name": name,
            "admin_ids": [],
            "assignment_limit": None,
            "distribution_method": "round_robin",
        }
        self.teams[team["id"]] = team
        for admin_id in admin_ids:
            admin = self.get_admin(admin_id)
            if admin is not None:
                team["admin_ids"].append(admin["id"])
                admin["team_ids"].append(team["id"])
        self.log_activity(self.owner, "app_team_creation", f"Team {name} was created.", {})
        return team

    def get_team(self, team_id: str) -> dict[str, Any]:
        team = self.teams.get(team_id)
        if team is None:
            raise TeamNotFound()
        return team

    @staticmethod
    def render_team(team: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "team",
            "id": team["id"],
            "name": team["name"],
            "admin_ids": [int(a) for a in team["admin_ids"]],
            "admin_priority_level": None,
            "assignment_limit": team["assignment_limit"],
            "distribution_method": team["distribution_method"],
        }

    # -- tags -------------------------------------------------------------------------------
    def get_tag(self, tag_id: str | int | None) -> dict[str, Any] | None:
        return None if tag_id is None else self.tags.get(str(tag_id))

    def tag_by_name(self, name: str) -> dict[str, Any] | None:
        tag_id = self._tag_by_name.get(name)
        return None if tag_id is None else self.tags[tag_id]

    def create_tag(self, name: str, admin_id: str | None = None) -> dict[str, Any]:
        """The tag named ``name``, created if missing (tag names are unique)."""
        existing = self.tag_by_name(name)
        if existing is not None:
            return existing
        tag = {
            "id": self.backend.new_numeric_id(TAG_ID_BASE),
            "name": name,
            "created_at": self.backend.now(),
            "admin_id": admin_id or self.owner["id"],
        }
        self.tags[tag["id"]] = tag
        self._tag_by_name[name] = tag["id"]
        return tag

    def rename_tag(self, tag: dict[str, Any], name: str) -> dict[str, Any]:
        other = self.tag_by_name(name)
        if other is not None and other is not tag:
            raise exc.ParameterInvalid(f"A tag named '{name}' already exists", field="name")
        self._tag_by_name.pop(tag["name"], None)
        tag["name"] = name
        self._tag_by_name[name] = tag["id"]
        return tag

    def delete_tag(self, tag_id: str) -> None:
        """Delete a tag; 400 while a segment uses it [S16:18295]."""
        tag = self.tags.get(tag_id)
        if tag is None:
            raise exc.NotFound()
        users = [s["name"] for s in self.segments.values() if s["_rule"] == ("tag", tag_id)]
        if users:
            raise exc.TagHasDependentObjects(
                f"Unable to delete Tag with dependent objects. Segments: {', '.join(users)}."
            )
        del self.tags[tag_id]
        self._tag_by_name.pop(tag["name"], None)
        self.backend.companies.forget_tag(tag_id)

    @staticmethod
    def render_tag(tag: dict[str, Any]) -> dict[str, Any]:
        """The spec's ``tag_basic``: ``{type: "tag", id, name}``."""
        return {"type": "tag", "id": tag["id"], "name": tag["name"]}

    # -- segments ---------------------------------------------------------------------------
    def create_segment(self, name: str, rule: Rule, person_type: str = "user") -> dict[str, Any]:
        now = self.backend.now()
        seg = {
            "id": self.backend.new_hex_id(),
            "name": name,
            "created_at": now,
            "updated_at": now,
            "person_type": person_type,
            "_rule": tuple(rule),
        }
        self.segments[seg["id"]] = seg
        self._matchers[seg["id"]] = self._matcher(seg["_rule"])
        return seg

    def _matcher(self, rule: Rule) -> Any:
        """A predicate contact -> bool for one segment rule."""
        kind = rule[0]
        if kind == "all":
            return lambda c: True
        if kind == "role":
            return lambda c: c.get("role") == rule[1]
        if kind == "tag":
            tagged_at = self.backend.contacts.tag_applied_at
            return lambda c: tagged_at(c, rule[1]) is not None
        if kind == "has":
            return lambda c: c.get(rule[1]) not in (None, "")
        if kind == "equals":
            return lambda c: c.get(rule[1]) == rule[2]
        raise ValueError(f"unknown segment rule {rule!r}")

    def segments_for_contact(self, contact: dict[str, Any]) -> list[dict[str, Any]]:
        """Rendered segments the contact belongs to (GET /contacts/{id}/segments)."""
        return [
            self.render_segment(s)
            for s in self.segments.values()
            if self._matchers[s["id"]](contact)
        ]

    def segment_ids_for_contact(self, contact: dict[str, Any]) -> list[str]:
        """Ids of the segments the contact belongs to (cheap: for search on segment_id)."""
        return [sid for sid, match in self._matchers.items() if match(contact)]

    def segment_count(self, segment: dict[str, Any]) -> int:
        match = self._matchers[segment["id"]]
        return sum(1 for c in self.backend.contacts.all_live() if match(c))

    def render_segment(self, seg: dict[str, Any], *, count: bool = False) -> dict[str, Any]:
        out = {
            "type": "segment",
            "id": seg["id"],
            "name": seg["name"],
            "created_at": seg["created_at"],
            "updated_at": seg["updated_at"],
            "person_type": seg["person_type"],
        }
        if count:
            out["count"] = self.segment_count(seg)
        return out

    # -- articles ---------------------------------------------------------------------------
    def create_article(
        self, *, title: str, body: str, author_id: str, state: str = "published"
    ) -> dict[str, Any]:
        now = self.backend.now()
        article_id = self.backend.new_numeric_id(ARTICLE_ID_BASE)
        slug = "-".join(
            w for w in "".join(ch if ch.isalnum() else " " for ch in title.lower()).split()
        )[:60]
        article = {
            "id": article_id,
            "title": title,
            "description": body.split(".")[0][:120],
            "body": body,
            "author_id": int(author_id),
            "state": state,
            "created_at": now,
            "updated_at": now,
            "url": (
                f"https://help.sandbox.example/en/articles/{article_id}-{slug}"
                if state == "published"
                else None
            ),
        }
        self.articles[article_id] = article
        return article

    def render_article(self, article: dict[str, Any], *, statistics: bool) -> dict[str, Any]:
        """The spec's ``article_list_item`` (+ ``statistics`` for ``article``)."""
        out: dict[str, Any] = {
            "type": "article",
            "id": article["id"],
            "workspace_id": self.backend.workspace_id,
            "parent_ids": [],
            "title": article["title"],
            "description": article["description"],
            "body": article["body"],
            "author_id": article["author_id"],
            "state": article["state"],
            "created_at": article["created_at"],
            "updated_at": article["updated_at"],
            "url": article["url"],
            "default_locale": "en",
            "tags": {"type": "tag.list", "tags": []},
        }
        if statistics:
            out["statistics"] = {
                "type": "article_statistics",
                "views": 0,
                "conversions": 0,
                "reactions": 0,
                "happy_reaction_percentage": 0,
                "neutral_reaction_percentage": 0,
                "sad_reaction_percentage": 0,
            }
        return out

    # -- activity logs ----------------------------------------------------------------------
    def log_activity(
        self,
        admin: dict[str, Any],
        activity_type: str,
        description: str,
        metadata: dict[str, Any],
        *,
        created_at: int | None = None,
    ) -> dict[str, Any]:
        entry = {
            "id": str(uuid.UUID(int=self.backend.rng.getrandbits(128), version=4)),
            "performed_by": {
                "type": "admin",
                "id": admin["id"],
                "email": admin["email"],
                "ip": "127.0.0.1",
            },
            "metadata": metadata,
            "created_at": self.backend.now() if created_at is None else created_at,
            "activity_type": activity_type,
            "activity_description": description,
        }
        self.activity_logs.append(entry)
        return entry

    def activity_between(self, after: int, before: int | None) -> list[dict[str, Any]]:
        """Entries with after <= created_at <= before, newest first."""
        out = [
            e
            for e in self.activity_logs
            if e["created_at"] >= after and (before is None or e["created_at"] <= before)
        ]
        out.sort(key=lambda e: e["created_at"], reverse=True)
        return out

    # -- data attributes (cross-store interface) ------------------------------------------------
    def get_data_attribute(self, model: str, name: str) -> dict[str, Any] | None:
        """The live custom attribute ``name`` of ``model`` ("contact" | "company"), else None."""
        return self.data_attributes.get(model, name)

    # -- control ----------------------------------------------------------------------------
    def dump(self) -> dict[str, Any]:
        return {
            "admins": list(self.admins.values()),
            "teams": list(self.teams.values()),
            "tags": [self.render_tag(t) for t in self.tags.values()],
            "segments": [self.render_segment(s) for s in self.segments.values()],
            "data_attributes": self.data_attributes.dump(),
            "events": self.events.dump(),
            "articles": list(self.articles.values()),
            "activity_logs": len(self.activity_logs),
        }
