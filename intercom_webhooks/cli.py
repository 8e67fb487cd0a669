"""``intercom-webhooks``: receive Intercom's webhook notifications into a store.

The client secret never comes from a plain argument (it would show in ``ps``): from the
environment variable named by ``--client-secret-env`` (default ``INTERCOM_CLIENT_SECRET``) or
from ``--client-secret-file``. It is never logged.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from intercom_webhooks import logs
from intercom_webhooks.server import COMMIT_TIMEOUT, DEFAULT_MAX_BODY, start
from intercom_webhooks.store import StoreError, is_postgres, open_store

log = logging.getLogger("intercom_webhooks")
SECRET_ENV = "INTERCOM_CLIENT_SECRET"
STORE_ENV = "INTERCOM_WEBHOOKS_STORE"
DEFAULT_STORE = "intercom-webhooks.sqlite3"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="intercom-webhooks",
        description="Receive Intercom webhook notifications: verify X-Hub-Signature, store "
        "each once (SQLite or PostgreSQL), acknowledge after the commit.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument(
        "--port", type=int, default=8766, help="port (default: 8766; 0 picks a free one)"
    )
    p.add_argument("--path", default="/", help="the path notifications are POSTed to (default: /)")
    p.add_argument(
        "--store",
        default=os.environ.get(STORE_ENV) or DEFAULT_STORE,
        help=f"a SQLite file path or a postgresql:// URL (env {STORE_ENV}; "
        f"default: {DEFAULT_STORE})",
    )
    p.add_argument(
        "--client-secret-env",
        default=SECRET_ENV,
        metavar="NAME",
        help=f"environment variable holding the app's client secret (default: {SECRET_ENV})",
    )
    p.add_argument(
        "--client-secret-file",
        metavar="PATH",
        help="file holding the client secret (wins over the environment)",
    )
    p.add_argument(
        "--max-body-bytes",
        type=int,
        default=DEFAULT_MAX_BODY,
        help=f"larger bodies are refused with 413 (default: {DEFAULT_MAX_BODY})",
    )
    p.add_argument(
        "--commit-timeout",
        type=float,
        default=COMMIT_TIMEOUT,
        help="answer 503 (Intercom retries) when a commit takes longer (default: "
        f"{COMMIT_TIMEOUT} s; Intercom waits 5 s)",
    )
    p.add_argument(
        "--sqlite-synchronous",
        choices=["FULL", "NORMAL"],
        default="FULL",
        help="FULL: an acknowledged notification survives a power loss; NORMAL: a process "
        "crash only (default: FULL)",
    )
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return p


def read_secret(args: argparse.Namespace) -> bytes:
    """The client secret, from the file or the environment; a ValueError names the fix."""
    if args.client_secret_file:
        try:
            with open(args.client_secret_file, "rb") as f:
                secret = f.read().strip()
        except OSError as e:
            raise ValueError(
                f"cannot read --client-secret-file {args.client_secret_file}: {e.strerror}"
            ) from None
        if not secret:
            raise ValueError(f"--client-secret-file {args.client_secret_file} is empty")
        return secret
    value = os.environ.get(args.client_secret_env, "").strip()
    if not value:
        raise ValueError(
            f"no client secret: set the environment variable {args.client_secret_env} (or "
            "--client-secret-env NAME, --client-secret-file PATH) to your app's client "
            "secret (Developer Hub > your app > Basic information)"
        )
    return value.encode()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logs.configure(args.log_level)
    # Request threads and the committer share one GIL: with the default 5 ms switch
    # interval, the committer waits out a request thread's slice after every fsync
    # (measured: ~25% fewer notifications per second). 1 ms keeps commits moving.
    sys.setswitchinterval(0.001)
    try:
        secret = read_secret(args)
    except ValueError as e:
        print(f"intercom-webhooks: {e}", file=sys.stderr)
        return 2
    if not args.path.startswith("/"):
        print("intercom-webhooks: --path must start with /", file=sys.stderr)
        return 2
    options = {} if is_postgres(args.store) else {"synchronous": args.sqlite_synchronous}
    try:
        store = open_store(args.store, **options)
    except StoreError as e:
        print(f"intercom-webhooks: {e}", file=sys.stderr)
        return 1
    try:
        running = start(
            store,
            secret,
            host=args.host,
            port=args.port,
            path=args.path,
            max_body_bytes=args.max_body_bytes,
            commit_timeout=args.commit_timeout,
        )
    except OSError as e:
        store.close()
        print(f"intercom-webhooks: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    # Handlers in place before the URL is printed: a caller that reads it and signals at
    # once gets a graceful stop.
    stop = threading.Event()
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "listening",
        extra={"fields": {"url": running.url, "store": store.kind, "location": store.location}},
    )
    print(running.url, flush=True)
    stop.wait()
    log.info("stopping", extra={"fields": {"signal": received[0] if received else None}})
    running.stop()
    log.info("stopped", extra={"fields": {}})
    return 0


if __name__ == "__main__":
    sys.exit(main())
