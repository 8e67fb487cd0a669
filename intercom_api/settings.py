"""Client settings, validated once from a tap or target config (keys shared by both)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from intercom_api.errors import ConfigError

# FACTS.md §1: the three hosts of the 2.16 spec's `servers`.
REGION_URLS: dict[str, str] = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
DEFAULT_VERSION = "2.16"
DEFAULT_USER_AGENT = "intercom-singer/0.1"
# FACTS.md §5: Intercom announces the app's limit on every answer; by default we spend it
# less this share, left to the app's other integrations. max_requests_per_minute caps it.
DEFAULT_RESERVE = 0.1
_VERSION = re.compile(r"^(\d+\.\d+|Preview|Unstable)$")


@dataclass(frozen=True)
class ClientSettings:
    """What IntercomClient needs. The token is kept out of repr()."""

    access_token: str = field(repr=False)
    base_url: str = REGION_URLS["us"]
    intercom_version: str = DEFAULT_VERSION
    user_agent: str = DEFAULT_USER_AGENT
    request_timeout: float = 30.0
    max_requests_per_minute: int | None = None
    rate_limit_reserve: float = DEFAULT_RESERVE
    max_workers: int = 8
    max_retries: int = 8
    # Not config keys: tuning for tests. First backoff step, cap, and total retry time.
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    max_retry_seconds: float = 300.0

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ClientSettings:
        """Validate a tap/target config; raise ConfigError naming the setting and the fix."""
        token = config.get("access_token")
        if not isinstance(token, str) or not token.strip():
            raise ConfigError(
                "access_token",
                "access_token is required: set it to your Intercom access token "
                "(Developer Hub > your app > Authentication).",
            )
        return cls(
            access_token=token.strip(),
            base_url=_base_url(config),
            intercom_version=_version(config.get("intercom_version")),
            user_agent=_user_agent(config.get("user_agent")),
            request_timeout=_number(config, "request_timeout", 30.0, minimum=0.0, strict=True),
            max_requests_per_minute=(
                _int(config, "max_requests_per_minute", 6, 6)
                if config.get("max_requests_per_minute") is not None
                else None
            ),
            rate_limit_reserve=_reserve(config),
            max_workers=_int(config, "max_workers", 8, 1, maximum=64),
            max_retries=_int(config, "max_retries", 8, 0, maximum=50),
        )

    @property
    def headers(self) -> dict[str, str]:
        """Headers sent on every request (FACTS.md §1)."""
        return {
            "Authorization": f"Bearer {self.access_token}",
            "Accept": "application/json",
            "Intercom-Version": self.intercom_version,
            "User-Agent": self.user_agent,
        }


def _base_url(config: Mapping[str, Any]) -> str:
    api_url = config.get("api_url")
    if api_url not in (None, ""):
        return _check_url(api_url)
    region = config.get("region") or "us"
    if not isinstance(region, str) or region.lower() not in REGION_URLS:
        raise ConfigError(
            "region",
            f"region must be one of us, eu, au (got {region!r}); or set api_url instead.",
        )
    return REGION_URLS[region.lower()]


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError("api_url", "api_url must be a URL string such as https://api.intercom.io")
    parts = urlsplit(value.strip())
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise ConfigError(
            "api_url",
            f"api_url must be an https:// URL such as https://api.intercom.io (got {value!r}).",
        )
    if parts.scheme == "http" and not _is_loopback(host):
        raise ConfigError(
            "api_url",
            f"api_url must use https:// (plain http is only allowed for a loopback host such "
            f"as the local sandbox, got host {host!r}).",
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(
            "api_url", "api_url must not carry credentials, a query string or a fragment."
        )
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _version(value: Any) -> str:
    if value in (None, ""):
        return DEFAULT_VERSION
    if not isinstance(value, str) or not _VERSION.match(value.strip()):
        raise ConfigError(
            "intercom_version",
            f'intercom_version must be a quoted version string such as "2.16" (got {value!r}).',
        )
    return value.strip()


def _user_agent(value: Any) -> str:
    if value in (None, ""):
        return DEFAULT_USER_AGENT
    if not isinstance(value, str) or "\n" in value or "\r" in value:
        raise ConfigError("user_agent", "user_agent must be a single-line string.")
    return value


def _reserve(config: Mapping[str, Any]) -> float:
    value = _number(config, "rate_limit_reserve", DEFAULT_RESERVE, minimum=0.0, strict=False)
    if value > 0.9:
        raise ConfigError(
            "rate_limit_reserve",
            f"rate_limit_reserve must be between 0 and 0.9, a share of the app's limit "
            f"(got {value!r}).",
        )
    return value


def _number(
    config: Mapping[str, Any], key: str, default: float, *, minimum: float, strict: bool
) -> float:
    value = config.get(key)
    if value is None:
        return default
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(key, f"{key} must be a number (got {value!r}).") from None
    if number < minimum or (strict and number == minimum):
        op = ">" if strict else ">="
        raise ConfigError(key, f"{key} must be {op} {minimum:g} (got {value!r}).")
    return number


def _int(
    config: Mapping[str, Any], key: str, default: int, minimum: int, *, maximum: int | None = None
) -> int:
    value = config.get(key)
    if value is None:
        return default
    if isinstance(value, bool) or not (
        isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit())
    ):
        raise ConfigError(key, f"{key} must be a whole number (got {value!r}).")
    number = int(value)
    if number < minimum or (maximum is not None and number > maximum):
        bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
        raise ConfigError(key, f"{key} must be {bound} (got {value!r}).")
    return number
