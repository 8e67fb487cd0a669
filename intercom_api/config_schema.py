"""The connection settings the tap and the target share, defined once (singer_sdk.typing).

Same names, defaults and descriptions in both plugins, so one Meltano config block serves
both; ``ClientSettings.from_config`` reads exactly these keys.
"""

from __future__ import annotations

from singer_sdk import typing as th


def connection_properties(*, max_workers_description: str) -> list[th.Property]:
    """The connection settings; each plugin says what its worker threads do."""
    return [
        th.Property(
            "access_token",
            th.StringType,
            required=True,
            secret=True,
            description="Intercom access token (Developer Hub > your app > Authentication).",
        ),
        th.Property(
            "region",
            th.StringType,
            default="us",
            allowed_values=["us", "eu", "au"],
            description=(
                "Region of the workspace: us (api.intercom.io), eu or au. A token only works "
                "on its own workspace's region."
            ),
        ),
        th.Property(
            "api_url",
            th.StringType,
            description=(
                "Base URL overriding region (https only; plain http only for a loopback host "
                "such as the local intercom-sandbox)."
            ),
        ),
        th.Property(
            "intercom_version",
            th.StringType,
            default="2.16",
            description="Intercom-Version header sent on every request.",
        ),
        th.Property(
            "user_agent", th.StringType, description="User-Agent header sent with every request."
        ),
        th.Property(
            "request_timeout",
            th.NumberType,
            default=30,
            description="Seconds to wait for one HTTP response before retrying.",
        ),
        th.Property(
            "max_requests_per_minute",
            th.IntegerType,
            description=(
                "A cap on our request rate, spent in 10-second windows like Intercom's. Unset: "
                "the limit Intercom announces for the app (X-RateLimit-Limit; 10,000/min by "
                "default) less rate_limit_reserve."
            ),
        ),
        th.Property(
            "rate_limit_reserve",
            th.NumberType,
            default=0.1,
            description=(
                "Share (0 to 0.9) of the app's rate limit left unused for its other "
                "integrations (the limit is per app; 25,000/min per workspace across apps)."
            ),
        ),
        th.Property("max_workers", th.IntegerType, default=8, description=max_workers_description),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=8,
            description="Retries of a failed request (429, 5xx, timeouts, dropped connections).",
        ),
    ]
