"""Deterministic, realistic seed data, created through the stores' model-level methods.

Everything random comes from ``backend.rng`` and every id from the backend's serial, so
the same seed on the same state gives the same workspace. Timestamps spread over the past
year: the seeder freezes ``backend.clock`` at past instants while it writes (so stores
stamp ``created_at`` / ``updated_at`` as they would have then) and gives the clock back at
the end. The data is deliberately untidy: accented, CJK and emoji names, contacts without a
name or phone, leads without an e-mail, many updates on the same few days, custom
attributes of every type, and conversations written by users, leads and admins.
"""

from __future__ import annotations

import time
import unicodedata
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from intercom_sandbox.backend import Backend

SEED_KINDS = (
    "users",
    "leads",
    "companies",
    "conversations",
    "tickets",
    "admins",
    "teams",
    "tags",
    "segments",
    "articles",
    "long_conversations",  # conversations of more than 500 parts (FACTS.md §3), on request
)
DAY = 86_400
HISTORY_DAYS = 365
DEFAULTS = {"admins": 4, "teams": 2, "tags": 8, "segments": 4, "articles": 5}


def _words(text: str) -> list[str]:
    """A word pool written as one "a|b|c" string (long pools stay a few lines)."""
    return text.split("|")


FIRST = _words(
    "Zoë|José|Renée|François|Søren|Łukasz|Chloé|Björn|Nuño|Aoife|Þórunn|Ana|Sam|"
    "Priya|Kwame|Mei|Olga|Ahmed|Lea|さくら|太郎|李娜|Ольга|Dmitrij|Grace|Mateo|Ingrid|Yusuf"
)
LAST = _words(
    "Müller|García|Núñez|O'Brien|Dvořák|Ødegaard|田中|王|Иванова|Smith|Nakamura|"
    "Kowalski|Okafor|Lefèvre|Schröder|Hernández|Nguyễn|Öztürk|Johansson|Kim|Rossi|"
    "Dubois|Silva|Brown"
)
EMOJI = ["🚀", "🌱", "☕", "🎧", "🦊", "✨"]
DOMAINS = ["example.com", "example.org", "mail.example.net", "corp.example.io", "exämple.de"]
COMPANY_WORDS = _words(
    "Acme|Globex|Initech|Umbrella|Hooli|Müller|Café Olé|株式会社サクラ|Nordlys|Öko|Ραδιο|"
    "Vandelay|Stark|Soylent|🚀 Rocket|Bäckerei|Zeta|Québec"
)
COMPANY_SUFFIX = ["GmbH", "Ltd", "Inc.", "SAS", "AB", "Labs", "Co.", "株式会社", "S.A.", ""]
INDUSTRIES = ["Software", "Retail", "Manufacturing", "Healthcare", "Education", "Finance"]
PLANS = ["free", "starter", "pro", "enterprise"]
COUNTRIES = [
    ("France", "Île-de-France", "Paris", "FR", "EU"),
    ("Japan", "Tokyo", "東京", "JP", "AS"),
    ("Germany", "Bayern", "München", "DE", "EU"),
    ("United States", "CA", "San José", "US", "NA"),
    ("Brazil", "São Paulo", "São Paulo", "BR", "SA"),
    ("Ireland", "Leinster", "Dublin", "IE", "EU"),
    ("Nigeria", "Lagos", "Lagos", "NG", "AF"),
]
BROWSERS = [
    ("chrome", "126.0", "Mac OS X"),
    ("firefox", "128.0", "Windows 10"),
    ("safari", "17.5", "iOS 17"),
    ("edge", "125.0", "Windows 11"),
]
OPENERS = [
    "<p>Hi, I need support with my invoice.</p>",
    "<p>Bonjour ! Je n'arrive pas à me connecter depuis ce matin.</p>",
    "<p>How do I export my data to CSV?</p>",
    "<p>ログインできません。助けてください。</p>",
    "<p>The app crashes when I upload a photo 📸</p>",
    "<p>Can I change my plan to <b>annual</b> billing?</p>",
    "<p>Hallo, wie kann ich mein Passwort zurücksetzen?</p>",
    "<p>Our team can't see the shared dashboard &amp; reports.</p>",
    '<p>Is there an API for bulk updates? See <a href="https://example.com/docs">docs</a></p>',
    "<p>Refund please, I was charged twice 😕</p>",
]
USER_REPLIES = [
    "<p>Thanks, that worked!</p>",
    "<p>Still broken, sorry.</p>",
    "<p>Here is a screenshot.</p>",
    "<p>Merci beaucoup 🙏</p>",
    "<p>Any update on this?</p>",
    "<p>了解しました。</p>",
]
ADMIN_REPLIES = [
    "<p>Thanks for reaching out! Let me check.</p>",
    "<p>Could you send us your account e-mail?</p>",
    "<p>I've fixed it on our side, can you try again?</p>",
    "<p>Our engineers are looking into it.</p>",
    '<p>Here is the guide: <a href="https://example.com/help">help</a></p>',
]
NOTES = _words(
    "<p>Customer is on the legacy plan.</p>|<p>Escalated to billing.</p>|"
    "<p>VIP — handle with care ✨</p>"
)
TICKET_TITLES = _words(
    "Cannot log in|Double charge|Export times out|Dark mode broken|API returns 500|"
    "Wrong VAT on invoice|SSO misconfigured"
)
ARTICLE_TITLES = _words(
    "Getting started|Resetting your password|Billing FAQ|Exporting your data|"
    "Using the API|Keyboard shortcuts|Intégrations et webhooks|セキュリティについて"
)
TAG_NAMES = _words(
    "vip|beta|churn-risk|enterprise|newsletter|Évènement|早期アクセス|🔥 hot lead|partner|"
    "needs-onboarding"
)
SOURCE_TYPES = ["conversation"] * 14 + ["email"] * 5 + ["whatsapp", "sms", "phone_call"]


def seed_backend(backend: Backend, counts: dict[str, int]) -> dict[str, int]:
    """Create the given numbers of objects; return what was created per kind."""
    unknown = [k for k in counts if k not in SEED_KINDS]
    if unknown:
        raise ValueError(f"unknown seed kind(s): {', '.join(unknown)}")
    with backend.lock:
        clock = backend.clock
        was_frozen, start, t0 = clock.frozen, clock.now(), time.time()
        try:
            return Seeder(backend, int(start)).run({k: int(v) for k, v in counts.items()})
        finally:
            # Give the clock back as it was: a running clock also keeps the time that passed.
            clock.set(start if was_frozen else start + (time.time() - t0), frozen=was_frozen)


def ascii_slug(text: str) -> str:
    """An ASCII e-mail slug: Zoë Müller -> zoe.muller; empty when nothing is left (CJK)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = "".join(ch if ch.isalnum() else " " for ch in folded.lower()).split()
    return ".".join(words)


class Seeder:
    def __init__(self, backend: Backend, now: int) -> None:
        self.b = backend
        self.rng = backend.rng
        self.now = now
        self.start = now - HISTORY_DAYS * DAY
        # Serial numbers of earlier seeds, so a second seed never collides with the first.
        self.serial = backend.workspace.seed_serial
        self.created: dict[str, int] = {}
        self._pool: list[dict[str, Any]] = []  # contacts conversations and tickets pick from
        # A handful of busy days on which many contacts are updated (FACTS.md §2.6).
        self.busy_days = sorted(self.now - self.rng.randint(1, 300) * DAY for _ in range(6))

    # -- helpers ----------------------------------------------------------------------------
    def at(self, ts: int) -> int:
        """Freeze the clock at ``ts`` (never in the future) and return it."""
        ts = min(int(ts), self.now)
        self.b.clock.set(ts, frozen=True)
        return ts

    def count(self, kind: str, n: int) -> None:
        self.created[kind] = self.created.get(kind, 0) + n

    def next_serial(self, kind: str) -> int:
        self.serial[kind] = self.serial.get(kind, 0) + 1
        return self.serial[kind]

    def past(self, after: int | None = None) -> int:
        lo = max(self.start, after or self.start)
        return self.rng.randint(lo, max(lo, self.now - 60))

    def person_name(self) -> str | None:
        r = self.rng.random()
        if r < 0.06:
            return None  # no name at all
        name = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"
        if r > 0.95:
            name = f"{name} {self.rng.choice(EMOJI)}"
        return name

    # -- run --------------------------------------------------------------------------------
    def run(self, counts: dict[str, int]) -> dict[str, int]:
        ws = self.b.workspace
        anything = any(counts.values())
        for kind, default in DEFAULTS.items():
            n = counts.get(kind)
            if n is None:
                existing = {
                    "admins": len(ws.admins) - 1,
                    "teams": len(ws.teams),
                    "tags": len(ws.tags),
                    "segments": len(ws.segments),
                    "articles": len(ws.articles),
                }[kind]
                n = default if anything and existing == 0 else 0
            if n:
                getattr(self, f"seed_{kind}")(n)
        if anything:
            self.ensure_attributes()
        companies = self.seed_companies(counts.get("companies", 0))
        if counts.get("users"):
            self.seed_contacts("user", counts["users"], companies)
        if counts.get("leads"):
            self.seed_contacts("lead", counts["leads"], companies)
        needs_people = (
            counts.get("conversations") or counts.get("tickets") or counts.get("long_conversations")
        )
        if needs_people and not len(self.b.contacts):
            self.seed_contacts("user", 10, companies)
        if counts.get("conversations"):
            self.seed_conversations(counts["conversations"])
        if counts.get("long_conversations"):
            self.seed_conversations(counts["long_conversations"], long=True)
        if counts.get("tickets"):
            self.seed_tickets(counts["tickets"])
        if anything:
            self.seed_activity()
            # The app existed before anything seeded in it (GET /me app.created_at): a client
            # that starts from the app's creation must see the whole seeded history.
            ws.app["created_at"] = min(ws.app["created_at"], self.start)
        return self.created

    # -- workspace --------------------------------------------------------------------------
    def seed_admins(self, n: int) -> None:
        ws = self.b.workspace
        for _ in range(n):
            i = self.next_serial("admins")
            name = self.person_name() or f"Teammate {i}"
            self.at(self.past())
            ws.create_admin(
                name=name,
                email=f"{ascii_slug(name) or 'teammate'}.{i}@sandbox.example",
                job_title=self.rng.choice(["Support", "Success", "Sales", None]),
                away_mode_enabled=self.rng.random() < 0.1,
            )
        self.count("admins", n)

    def seed_teams(self, n: int) -> None:
        ws = self.b.workspace
        admins = list(ws.admins)
        names = ["Support", "Billing", "Success", "Équipe FR", "サポート", "Escalations"]
        for _ in range(n):
            i = self.next_serial("teams")
            self.at(self.past())
            members = self.rng.sample(admins, k=min(len(admins), self.rng.randint(1, 3)))
            ws.create_team(
                names[(i - 1) % len(names)] + ("" if i <= len(names) else f" {i}"), members
            )
        self.count("teams", n)

    def seed_tags(self, n: int) -> None:
        ws = self.b.workspace
        for _ in range(n):
            i = self.next_serial("tags")
            name = TAG_NAMES[(i - 1) % len(TAG_NAMES)]
            self.at(self.past())
            ws.create_tag(name if i <= len(TAG_NAMES) else f"{name}-{i}")
        self.count("tags", n)

    def seed_segments(self, n: int) -> None:
        ws = self.b.workspace
        tags = list(ws.tags.values())
        rules: list[tuple[str, tuple[Any, ...], str]] = [
            ("Active users", ("role", "user"), "user"),
            ("All leads", ("role", "lead"), "contact"),
            ("Has phone", ("has", "phone"), "user"),
            ("Everyone", ("all",), "contact"),
        ]
        for _ in range(n):
            i = self.next_serial("segments")
            self.at(self.past())
            if i <= len(rules):
                name, rule, person_type = rules[i - 1]
            elif tags:
                tag = tags[i % len(tags)]
                name, rule, person_type = f"Tagged {tag['name']} {i}", ("tag", tag["id"]), "user"
            else:
                name, rule, person_type = f"Segment {i}", ("all",), "contact"
            ws.create_segment(name, rule, person_type)
        self.count("segments", n)

    def seed_articles(self, n: int) -> None:
        ws = self.b.workspace
        admins = list(ws.admins)
        for _ in range(n):
            i = self.next_serial("articles")
            title = ARTICLE_TITLES[(i - 1) % len(ARTICLE_TITLES)]
            self.at(self.past())
            ws.create_article(
                title=title if i <= len(ARTICLE_TITLES) else f"{title} ({i})",
                body=f"<p>{title}. Step one, step two, done.</p>",
                author_id=self.rng.choice(admins),
                state="draft" if self.rng.random() < 0.2 else "published",
            )
        self.count("articles", n)

    def ensure_attributes(self) -> None:
        """Custom data attributes the seeded contacts and companies use, made once."""
        attrs = self.b.workspace.data_attributes
        wanted = [
            ("contact", "plan_tier", "options", ["free", "starter", "pro", "enterprise"]),
            ("contact", "seats", "integer", None),
            ("contact", "mrr", "float", None),
            ("contact", "beta_user", "boolean", None),
            ("contact", "trial_ends_at", "date", None),
            ("contact", "favourite_colour", "string", None),
            # Company custom attributes are typed string-valued in the 2.16 `company` schema.
            ("company", "account_tier", "string", None),
            ("company", "region", "string", None),
        ]
        self.at(self.start)
        for model, name, dtype, options in wanted:
            if self.b.workspace.get_data_attribute(model, name) is None:
                body: dict[str, Any] = {"name": name, "model": model, "data_type": dtype}
                if options:
                    body["options"] = [{"value": o} for o in options]
                attrs.create(body, admin_id=self.b.workspace.owner["id"])

    def seed_activity(self) -> None:
        ws = self.b.workspace
        for admin in list(ws.admins.values()):
            for _ in range(self.rng.randint(1, 3)):
                ts = self.now - self.rng.randint(60, 60 * DAY)
                ws.log_activity(
                    admin,
                    "admin_login_success",
                    f"{admin['name']} logged in.",
                    {"sign_in_method": "email_password"},
                    created_at=ts,
                )

    # -- companies and contacts -------------------------------------------------------------
    def seed_companies(self, n: int) -> list[str]:
        store = self.b.companies
        out = []
        for _ in range(n):
            i = self.next_serial("companies")
            name = f"{self.rng.choice(COMPANY_WORDS)} {self.rng.choice(COMPANY_SUFFIX)}".strip()
            body: dict[str, Any] = {
                "company_id": f"cmp-{i:06d}",
                "name": f"{name} {i}" if self.rng.random() < 0.5 else name,
                "remote_created_at": self.past() - 400 * DAY,
                "monthly_spend": self.rng.choice([0, 0, 49, 99, 499, 1999.99]),
                "custom_attributes": {
                    "account_tier": self.rng.choice(["gold", "silver", "bronze"])
                },
            }
            if self.rng.random() < 0.8:
                body["plan"] = self.rng.choice(PLANS)
            if self.rng.random() < 0.7:
                body["size"] = self.rng.choice([3, 12, 50, 250, 1200])
            if self.rng.random() < 0.7:
                body["industry"] = self.rng.choice(INDUSTRIES)
                body["website"] = f"https://www.{ascii_slug(name) or 'company'}{i}.example"
            if self.rng.random() < 0.4:
                body["custom_attributes"]["region"] = self.rng.choice(["EMEA", "APAC", "AMER"])
            body["update_last_request_at"] = self.rng.random() < 0.7
            self.at(self.past())
            out.append(store.create_or_update(body)["id"])
        self.count("companies", n)
        return out

    def contact_fields(self, role: str, i: int) -> dict[str, Any]:
        rng = self.rng
        name = self.person_name() if role == "user" or rng.random() < 0.5 else None
        fields: dict[str, Any] = {"role": role}
        if name is not None:
            fields["name"] = name
        slug = ascii_slug(name or "") or role
        if role == "user" or rng.random() < 0.6:
            fields["email"] = f"{slug}.{role[0]}{i}@{rng.choice(DOMAINS)}"
        if role == "user" and (rng.random() < 0.85 or "email" not in fields):
            fields["external_id"] = f"{role}-{i:07d}"
        if rng.random() < 0.55:
            fields["phone"] = f"+{rng.choice([33, 49, 81, 1, 44])}{rng.randint(10**8, 10**9 - 1)}"
        if rng.random() < 0.8:
            country, region, city, cc, cont = rng.choice(COUNTRIES)
            fields["location"] = {
                "country": country,
                "region": region,
                "city": city,
                "country_code": cc,
                "continent_code": cont,
            }
        if rng.random() < 0.7:
            browser, version, os_name = rng.choice(BROWSERS)
            fields.update(
                browser=browser,
                browser_version=version,
                os=os_name,
                browser_language=rng.choice(["en", "fr", "ja", "de", "pt-BR"]),
            )
        attrs: dict[str, Any] = {}
        if rng.random() < 0.6:
            attrs["plan_tier"] = rng.choice(["free", "starter", "pro", "enterprise"])
        if rng.random() < 0.5:
            attrs["seats"] = rng.randint(1, 500)
        if rng.random() < 0.4:
            attrs["mrr"] = round(rng.uniform(0, 5000), 2)
        if rng.random() < 0.3:
            attrs["beta_user"] = rng.random() < 0.5
        if rng.random() < 0.2:
            attrs["trial_ends_at"] = self.now + rng.randint(-30, 30) * DAY
        if rng.random() < 0.1:
            attrs["favourite_colour"] = rng.choice(["bleu", "緑", "red 🔴", ""])
        if attrs:
            fields["custom_attributes"] = attrs
        if rng.random() < 0.1:
            fields["unsubscribed_from_emails"] = True
        return fields

    def seed_contacts(self, role: str, n: int, companies: list[str]) -> None:
        rng = self.rng
        contacts = self.b.contacts
        ws = self.b.workspace
        admins = list(ws.admins)
        tags = list(ws.tags)
        all_companies = companies or list(self.b.companies.by_id)
        busy = self.busy_days
        for k in range(n):
            i = self.next_serial(role)
            fields = self.contact_fields(role, i)
            created = self.past()
            if role == "user":
                fields["signed_up_at"] = created - rng.randint(0, 30 * DAY)
            if rng.random() < 0.75:
                fields["last_seen_at"] = rng.randint(created, self.now)
            if rng.random() < 0.3:
                fields["owner_id"] = rng.choice(admins)
            self.at(created)
            contact = contacts.create(fields)
            cid = contact["id"]
            t = created
            if role == "user" and all_companies:
                # Every seeded company gets users first; then 0-2 companies each.
                picks = [companies[k]] if k < len(companies) else []
                picks += rng.sample(all_companies, k=min(len(all_companies), rng.randint(0, 2)))
                for company_id in dict.fromkeys(picks):
                    t = self.at(t + rng.randint(1, 3600))
                    contacts.attach_company(cid, company_id)
            if tags and rng.random() < 0.3:
                for tag_id in rng.sample(tags, k=min(len(tags), rng.randint(1, 2))):
                    t = self.at(t + rng.randint(1, 86_400))
                    contacts.attach_tag(cid, tag_id)
            if rng.random() < 0.05:
                self.at(t + rng.randint(60, 10 * DAY))
                contacts.add_note(cid, rng.choice(NOTES), rng.choice(admins))
            # Many updates land on the same few days (day-granular search, FACTS.md §2.6).
            if rng.random() < 0.4:
                later = [d for d in busy if d > t]
                if later:
                    self.at(rng.choice(later) + rng.randint(0, DAY - 1))
                    contacts.update(cid, {"last_seen_at": self.b.now()})
        self.count(f"{role}s", n)

    # -- conversations and tickets ----------------------------------------------------------
    def pick_contact(self) -> dict[str, Any]:
        return self._pool[self.rng.randrange(len(self._pool))]

    def seed_conversations(self, n: int, *, long: bool = False) -> None:
        rng = self.rng
        store = self.b.conversations
        ws = self.b.workspace
        admins = [ws.admins[a] for a in ws.admins]
        teams = list(ws.teams)
        tags = list(ws.tags)
        self._pool = list(self.b.contacts.all_live())
        for _ in range(n):
            contact = self.pick_contact()
            admin = rng.choice(admins)
            admin_author = store.author_for_admin(admin)
            contact_author = store.author_for_contact(contact)
            created = self.at(self.past(after=contact["created_at"]))
            source_type = rng.choice(SOURCE_TYPES)
            by_contact = rng.random() < 0.75
            conv = store.create(
                author=contact_author if by_contact else admin_author,
                contact_ids=[contact["id"]],
                body=rng.choice(OPENERS if by_contact else ADMIN_REPLIES),
                subject="Re: your account" if source_type == "email" else "",
                source_type=source_type,
                created_at=created,
                title=rng.choice([None, None, "Billing question", "Login issue"]),
                priority=rng.choice(["none"] * 6 + ["low", "medium", "high", "urgent"]),
            )
            n_parts = rng.randint(510, 650) if long else min(40, 1 + int(rng.expovariate(1 / 3)))
            t = created
            for j in range(n_parts):
                t += rng.randint(30, 6 * 3600) if not long else rng.randint(5, 600)
                if t > self.now:
                    break
                r = rng.random()
                if j == 0 and by_contact:
                    store.assign(conv, admin, created_at=t)
                elif j == n_parts - 1 and r < 0.7:
                    store.add_part(conv, part_type="close", author=admin_author, created_at=t)
                elif r < 0.45:
                    store.add_part(
                        conv,
                        part_type="comment",
                        author=admin_author,
                        body=rng.choice(ADMIN_REPLIES),
                        created_at=t,
                    )
                elif r < 0.85:
                    store.add_part(
                        conv,
                        part_type="comment",
                        author=contact_author,
                        body=rng.choice(USER_REPLIES),
                        created_at=t,
                    )
                elif r < 0.93:
                    store.add_part(
                        conv,
                        part_type="note",
                        author=admin_author,
                        body=rng.choice(NOTES),
                        created_at=t,
                    )
                else:
                    store.add_part(
                        conv,
                        part_type="snoozed",
                        author=admin_author,
                        created_at=t,
                        snoozed_until=t + DAY,
                    )
            if teams and rng.random() < 0.5:
                store.assign_team(conv, rng.choice(teams))
            if tags and rng.random() < 0.2:
                store.tag(conv, rng.choice(tags), admin["id"], at=conv["updated_at"])
            if conv["state"] == "closed" and rng.random() < 0.3:
                store.rate(
                    conv,
                    rating=rng.randint(1, 5),
                    remark=rng.choice([None, "Great!"]),
                    contact_id=contact["id"],
                    teammate_id=admin["id"],
                    at=min(self.now, conv["updated_at"] + 600),
                )
        self.count("long_conversations" if long else "conversations", n)

    def seed_tickets(self, n: int) -> None:
        rng = self.rng
        store = self.b.tickets
        conversations = self.b.conversations
        ws = self.b.workspace
        admins = [ws.admins[a] for a in ws.admins]
        store.ensure_defaults()
        types = list(store.types)
        self._pool = list(self.b.contacts.all_live())
        for _ in range(n):
            contact = self.pick_contact()
            admin = rng.choice(admins)
            author = conversations.author_for_admin(admin)
            created = self.at(self.past(after=contact["created_at"]))
            ticket = store.create(
                ticket_type_id=rng.choice(types),
                contact_ids=[contact["id"]],
                title=rng.choice(TICKET_TITLES),
                description=rng.choice([None, "Steps to reproduce: log in, click export."]),
                author=author,
                created_at=created,
                admin_assignee_id=admin["id"] if rng.random() < 0.7 else None,
            )
            t = created
            for state in ("in_progress", "waiting_on_customer", "resolved"):
                if rng.random() < 0.5:
                    break
                t += rng.randint(600, 3 * DAY)
                if t > self.now:
                    break
                store.change_state(ticket, state, author, at=t)
                if state == "waiting_on_customer":
                    store.comment(
                        ticket,
                        conversations.author_for_contact(contact),
                        rng.choice(USER_REPLIES),
                        at=min(self.now, t + 60),
                    )
        self.count("tickets", n)
