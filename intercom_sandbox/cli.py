"""``intercom-sandbox``: serve a seeded, stateful Intercom API on 127.0.0.1."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading

from intercom_sandbox.seed import SEED_KINDS
from intercom_sandbox.settings import DEFAULT_TIMEZONE, SWITCHES, parse_zone


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="intercom-sandbox",
        description="A local, stateful Intercom REST API (2.16) for tests, demos and benchmarks.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback only)")
    p.add_argument("--port", type=int, default=8765, help="port (0 picks a free one)")
    p.add_argument(
        "--token",
        action="append",
        metavar="NAME[:PERM,PERM]",
        help="access token the API accepts (repeatable; default: sandbox-token); "
        "NAME:perm1,perm2 limits it to those Intercom permissions (e.g. "
        "'limited:Read and list users and companies,Read tags'), other operations answer "
        "403 action_forbidden; a plain NAME has every permission",
    )
    for kind in SEED_KINDS:
        p.add_argument(
            f"--{kind.replace('_', '-')}",
            type=int,
            default=0,
            metavar="N",
            help=f"seed N {kind.replace('_', ' ')}",
        )
    p.add_argument("--random-seed", type=int, default=0, help="seed of all randomness")
    p.add_argument("--rate-limit-per-minute", type=int, default=10_000)
    p.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request")
    p.add_argument("--jitter-ms", type=float, default=0.0, help="extra random latency, 0..N ms")
    p.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="probability of a fault per request, spread over 500/502/503/429/drop/truncate",
    )
    p.add_argument(
        "--search-lag-seconds",
        type=float,
        default=0.0,
        help="delay before a contact write is visible to search",
    )
    for switch in SWITCHES.values():
        p.add_argument(
            f"--{switch.name.replace('_', '-')}",
            choices=switch.choices,
            default=switch.default,
            help=f"{switch.help} (default: {switch.default})",
        )
    p.add_argument(
        "--timezone",
        default=DEFAULT_TIMEZONE,
        metavar="ZONE",
        help="the workspace timezone, an IANA name (GET /me app.timezone; contact search "
        f"matches dates by calendar day in it; default: {DEFAULT_TIMEZONE})",
    )
    p.add_argument(
        "--webhook-url",
        metavar="URL",
        help="send webhook notifications of the sandbox's writes to URL (see --client-secret)",
    )
    p.add_argument(
        "--client-secret",
        metavar="S",
        help="the client secret that signs webhook bodies (X-Hub-Signature; default: the "
        "environment variable INTERCOM_CLIENT_SECRET)",
    )
    p.add_argument(
        "--webhook-topics",
        metavar="T,T",
        help="comma-separated topics to send (default: every topic the sandbox fires)",
    )
    p.add_argument(
        "--webhook-retry-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply webhook retry delays (Intercom: 1 minute) by F; 0.01 retries in 0.6 s",
    )
    p.add_argument(
        "--webhook-concurrency",
        type=int,
        default=1,
        metavar="N",
        help="webhook deliveries in flight at once (default 1: strictly in order)",
    )
    p.add_argument("--verbose", action="store_true", help="log every request")
    return p


def main(argv: list[str] | None = None) -> int:
    from intercom_sandbox.server import start

    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    counts = {k: getattr(args, k) for k in SEED_KINDS if getattr(args, k)}
    if args.rate_limit_per_minute < 6:
        print("intercom-sandbox: --rate-limit-per-minute must be at least 6", file=sys.stderr)
        return 2
    try:
        parse_zone(args.timezone)
    except ValueError as e:
        print(f"intercom-sandbox: --timezone: {e}", file=sys.stderr)
        return 2
    secret = args.client_secret or os.environ.get("INTERCOM_CLIENT_SECRET", "")
    if args.webhook_url and not secret:
        print(
            "intercom-sandbox: --webhook-url needs --client-secret (or INTERCOM_CLIENT_SECRET)",
            file=sys.stderr,
        )
        return 2
    if args.webhook_retry_scale <= 0:
        print("intercom-sandbox: --webhook-retry-scale must be > 0", file=sys.stderr)
        return 2
    topics = [t.strip() for t in args.webhook_topics.split(",")] if args.webhook_topics else None
    try:
        sandbox = start(
            host=args.host,
            port=args.port,
            tokens=args.token or ["sandbox-token"],
            rate_limit_per_minute=args.rate_limit_per_minute,
            random_seed=args.random_seed,
            search_lag_seconds=args.search_lag_seconds,
            seed=counts,
            timezone=args.timezone,
            webhook_url=args.webhook_url,
            client_secret=secret,
            webhook_topics=topics,
            webhook_retry_scale=args.webhook_retry_scale,
            webhook_concurrency=args.webhook_concurrency,
            **{name: getattr(args, name) for name in SWITCHES},
        )
    except ValueError as e:  # a bad --webhook-url, --webhook-topics or --token permission
        print(f"intercom-sandbox: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"intercom-sandbox: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    try:
        sandbox.app.faults.configure(
            {
                "fault_rate": args.fault_rate,
                "latency_ms": args.latency_ms,
                "jitter_ms": args.jitter_ms,
            }
        )
    except ValueError as e:
        print(f"intercom-sandbox: {e}", file=sys.stderr)
        sandbox.stop()
        return 2
    # The handler is in place before the URL is printed: a caller that reads the URL and
    # sends SIGTERM at once gets a clean stop, not the default kill.
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print(sandbox.base_url, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    sandbox.stop()
    sandbox.backend.webhooks.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
