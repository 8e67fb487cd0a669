"""Intercom error codes used by the company, conversation and workspace domains.

They extend ``intercom_sandbox.exceptions`` (which the lead owns) with the codes the 2.16
spec's examples show for these operations.
"""

from __future__ import annotations

from intercom_sandbox import exceptions as exc


class AdminNotFound(exc.NotFound):
    """GET /admins/{id} for an unknown admin [S16:1447 example]."""

    code = "admin_not_found"
    message = "Admin not found"


class TeamNotFound(exc.NotFound):
    """GET /teams/{id} for an unknown team [S16:18460 example]."""

    code = "team_not_found"
    message = "Team not found"


class FieldNotFound(exc.NotFound):
    """PUT /data_attributes/{id} for an unknown attribute [S16:15083 example]."""

    code = "field_not_found"
    message = "We couldn't find that data attribute to update"


class DataInvalid(exc.UnprocessableEntity):
    code = "data_invalid"
    message = "Data invalid"


class ModelNotSupported(exc.UnprocessableEntity):
    """GET /data_attributes?model=conversation is a 422 whose code is parameter_invalid."""

    code = "parameter_invalid"
    message = "model=conversation is no longer supported. Use GET /conversations/attributes instead"


class ScrollNotFound(exc.NotFound):
    """A scroll_param that expired, ended or never existed (FACTS.md §4)."""

    message = "scroll parameter not found"


class VersionUnavailable(exc.IntercomVersionInvalid):
    """An operation that exists only in a newer Intercom-Version (e.g. deleted conversations)."""

    message = "Requested resource is not available in current API version."
