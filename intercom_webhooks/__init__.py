"""intercom-webhooks: a receiver for Intercom's webhook notifications (FACTS.md §7).

It verifies each notification's ``X-Hub-Signature`` on the raw body, stores it durably (SQLite
by default, PostgreSQL by URL) and acknowledges only after the commit; ``tap-intercom``'s
``webhook_events`` stream reads the store incrementally. Layout: ``signature`` (HMAC),
``envelope`` (what a notification must hold), ``store`` (the storage interface and the group
committer), ``store_sqlite`` / ``store_postgres``, ``server`` (HTTP), ``cli``.
"""
