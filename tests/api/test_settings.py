"""ClientSettings.from_config: one clear ConfigError naming the setting, never the token."""

from __future__ import annotations

from typing import Any

import pytest

from intercom_api import REGION_URLS, ClientSettings, ConfigError

TOKEN = "tok-SECRET-123"


def settings(**extra: Any) -> ClientSettings:
    return ClientSettings.from_config({"access_token": TOKEN, **extra})


def config_error(**config: Any) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        ClientSettings.from_config(config)
    return info.value


def test_defaults() -> None:
    s = settings()
    assert s.base_url == "https://api.intercom.io"
    assert s.intercom_version == "2.16"
    assert (s.max_requests_per_minute, s.max_workers, s.max_retries) == (None, 8, 8)
    assert s.rate_limit_reserve == 0.1  # the server's limit less 10%, no cap
    assert s.request_timeout == 30.0
    assert s.headers["Intercom-Version"] == "2.16"
    assert s.headers["Accept"] == "application/json"


@pytest.mark.parametrize("region", ["us", "eu", "au", "EU"])
def test_regions(region: str) -> None:
    assert settings(region=region).base_url == REGION_URLS[region.lower()]


def test_api_url_wins_over_region_and_loses_trailing_slash() -> None:
    s = settings(region="eu", api_url="https://proxy.example.com/intercom/")
    assert s.base_url == "https://proxy.example.com/intercom"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8765", "http://localhost:1", "http://[::1]:9"])
def test_plain_http_allowed_for_loopback(url: str) -> None:
    assert settings(api_url=url).base_url == url


@pytest.mark.parametrize(
    ("config", "setting", "fragment"),
    [
        ({}, "access_token", "access_token is required"),
        ({"access_token": "  "}, "access_token", "access_token is required"),
        ({"access_token": TOKEN, "region": "mars"}, "region", "us, eu, au"),
        ({"access_token": TOKEN, "api_url": "http://example.com"}, "api_url", "https://"),
        ({"access_token": TOKEN, "api_url": "ftp://x"}, "api_url", "https://"),
        ({"access_token": TOKEN, "api_url": "https://u:p@x.com"}, "api_url", "credentials"),
        ({"access_token": TOKEN, "max_workers": -1}, "max_workers", "between 1 and 64"),
        ({"access_token": TOKEN, "max_workers": 0}, "max_workers", "between 1 and 64"),
        ({"access_token": TOKEN, "max_workers": True}, "max_workers", "whole number"),
        ({"access_token": TOKEN, "max_retries": -2}, "max_retries", "between 0 and 50"),
        ({"access_token": TOKEN, "request_timeout": 0}, "request_timeout", "> 0"),
        ({"access_token": TOKEN, "request_timeout": "x"}, "request_timeout", "a number"),
        ({"access_token": TOKEN, "max_requests_per_minute": 1}, "max_requests_per_minute", ">= 6"),
        ({"access_token": TOKEN, "intercom_version": 2.1}, "intercom_version", "quoted"),
        ({"access_token": TOKEN, "intercom_version": "latest"}, "intercom_version", '"2.16"'),
        ({"access_token": TOKEN, "user_agent": "a\nb"}, "user_agent", "single-line"),
    ],
)
def test_config_errors_name_the_setting(config: dict, setting: str, fragment: str) -> None:
    err = config_error(**config)
    assert err.setting == setting
    assert setting in str(err)
    assert fragment in str(err)
    assert "\n" not in str(err)
    assert TOKEN not in str(err)


def test_token_not_in_repr() -> None:
    assert TOKEN not in repr(settings())
