"""The sandbox's control API under /_sandbox/: reset, seed, stats, clock, faults, config, state,
webhooks.

Control handlers receive the whole SandboxApp (not only the backend): they steer the
limiter, the fault injector and the stats as well as the state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from intercom_sandbox import exceptions as exc
from intercom_sandbox.server import Request, Response, freeze_heap
from intercom_sandbox.settings import SWITCHES, Settings

if TYPE_CHECKING:
    from intercom_sandbox.server import SandboxApp


def reset(app: SandboxApp, req: Request) -> Response:
    """Empty every store, clear faults and stats (the clock and rate limit stay)."""
    app.backend.reset()
    app.faults.clear()
    app.stats.reset()
    return Response(200, {"ok": True})


def seed(app: SandboxApp, req: Request) -> Response:
    """Add seeded objects: body ``{"users": 100, "leads": 20, "companies": 10, ...}``."""
    from intercom_sandbox.seed import SEED_KINDS, seed_backend

    body = req.body_object()
    counts = body.get("counts", body)
    bad = [k for k in counts if k not in SEED_KINDS]
    if bad:
        raise exc.ParameterInvalid(
            f"Unknown seed kind(s) {', '.join(bad)}; known: {', '.join(SEED_KINDS)}"
        )
    try:
        counts = {k: int(v) for k, v in counts.items()}
    except (TypeError, ValueError) as e:
        raise exc.ParameterInvalid("Seed counts must be integers") from e
    if any(v < 0 for v in counts.values()):
        raise exc.ParameterInvalid("Seed counts must be >= 0")
    created = seed_backend(app.backend, counts)
    freeze_heap()
    return Response(200, {"ok": True, "created": created})


def stats(app: SandboxApp, req: Request) -> dict[str, Any]:
    return {**app.stats.snapshot(), "faults_injected": dict(app.faults.injected)}


def reset_stats(app: SandboxApp, req: Request) -> dict[str, Any]:
    app.stats.reset()
    app.faults.injected = dict.fromkeys(app.faults.injected, 0)
    return {"ok": True}


def get_clock(app: SandboxApp, req: Request) -> dict[str, Any]:
    clock = app.backend.clock
    return {"now": clock.now(), "frozen": clock.frozen}


def set_clock(app: SandboxApp, req: Request) -> dict[str, Any]:
    """Body: ``{"set": <unix s>}`` and/or ``{"advance": <seconds>}``, optional ``frozen``."""
    body = req.body_object()
    clock = app.backend.clock
    frozen = body.get("frozen")
    if frozen is not None and not isinstance(frozen, bool):
        raise exc.ParameterInvalid("frozen must be true or false", field="frozen")
    try:
        if "set" in body:
            clock.set(float(body["set"]), frozen=frozen)
        elif frozen is not None:
            clock.set(clock.now(), frozen=frozen)
        if "advance" in body:
            clock.advance(float(body["advance"]))
    except (TypeError, ValueError) as e:
        raise exc.ParameterInvalid("set and advance take numbers of seconds") from e
    return get_clock(app, req)


def get_faults(app: SandboxApp, req: Request) -> dict[str, Any]:
    return {**app.faults.config.to_dict(), "injected": dict(app.faults.injected)}


def set_faults(app: SandboxApp, req: Request) -> dict[str, Any]:
    """Body: ``{"rates": {"500": 0.05, "drop": 0.02}, "latency_ms": 100}``; ``{"clear": true}``."""
    body = req.body_object()
    if body.pop("clear", False):
        app.faults.clear()
    try:
        app.faults.configure(body)
    except (TypeError, ValueError) as e:
        raise exc.ParameterInvalid(str(e)) from e
    return get_faults(app, req)


def get_config(app: SandboxApp, req: Request) -> dict[str, Any]:
    return {
        "search_lag_seconds": app.backend.search_lag_seconds,
        "rate_limit_per_minute": app.limiter.per_minute,
        "rate_limit_per_window": app.limiter.per_window,
        # The behaviour switches and the workspace timezone (settings.py).
        **app.backend.settings.to_dict(),
    }


def set_config(app: SandboxApp, req: Request) -> dict[str, Any]:
    """Body: any keys of GET /_sandbox/config (but rate_limit_per_window). All are checked
    before any is applied, so a bad value changes nothing."""
    body = req.body_object()
    settings = app.backend.settings
    staged = Settings(**settings.to_dict())
    for key, value in body.items():
        try:
            if key == "search_lag_seconds":
                if float(value) < 0:
                    raise ValueError("search_lag_seconds must be >= 0")
            elif key == "rate_limit_per_minute":
                if int(value) < 6:
                    raise ValueError("rate_limit_per_minute must be at least 6")
            elif key in SWITCHES or key == "timezone":
                staged.set(key, value)
            else:
                known = ", ".join(k for k in get_config(app, req) if k != "rate_limit_per_window")
                raise exc.ParameterInvalid(
                    f"Unknown sandbox setting {key!r}; known: {known}", field=key
                )
        except (TypeError, ValueError) as e:
            raise exc.ParameterInvalid(str(e), field=key) from e
    if "search_lag_seconds" in body:
        app.backend.search_lag_seconds = float(body["search_lag_seconds"])
    if "rate_limit_per_minute" in body:
        app.limiter.per_minute = int(body["rate_limit_per_minute"])
    for key in staged.to_dict():
        if key in body:
            settings.set(key, body[key])
    return get_config(app, req)


def dump_state(app: SandboxApp, req: Request) -> dict[str, Any]:
    return app.backend.dump()


def list_webhooks(app: SandboxApp, req: Request) -> dict[str, Any]:
    """Webhook subscriptions with their delivery counts (never their secrets)."""
    sender = app.backend.webhooks
    return {"type": "list", "data": sender.list(), "retry_scale": sender.retry_scale}


def change_webhooks(app: SandboxApp, req: Request) -> dict[str, Any]:
    """Body ``{"action": "add", "url", "client_secret", "topics": [...], "concurrency": 1}``
    (add is the default),
    ``{"action": "remove" | "ping", "id"}``, ``{"action": "list"}`` or ``{"action": "config",
    "retry_scale": 0.01}`` (webhooks.py has the topics and the delivery rules)."""
    body = req.body_object()
    sender = app.backend.webhooks
    action = body.get("action", "add")
    try:
        if action == "add":
            return sender.subscribe(
                body.get("url"),
                body.get("client_secret"),
                body.get("topics"),
                body.get("concurrency", 1),
            )
        if action in ("remove", "ping"):
            sub_id = body.get("id")
            if action == "remove":
                sender.unsubscribe(sub_id)
                return {"ok": True, "id": sub_id}
            return {"ok": True, "id": sub_id, "notifications": sender.ping(sub_id)}
        if action == "config":
            scale = float(body.get("retry_scale", sender.retry_scale))
            if scale <= 0:
                raise ValueError("retry_scale must be > 0")
            sender.retry_scale = scale
            return list_webhooks(app, req)
        if action == "list":
            return list_webhooks(app, req)
    except KeyError:
        raise exc.NotFound(f"No webhook subscription {body.get('id')!r}") from None
    except (TypeError, ValueError) as e:
        raise exc.ParameterInvalid(str(e)) from e
    raise exc.ParameterInvalid(
        f"Unknown action {action!r}; known: add, remove, ping, list, config", field="action"
    )
