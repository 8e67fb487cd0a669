"""One exception class per Intercom error code; each renders Intercom's error envelope.

Envelope (FACTS.md §6): {"type": "error.list", "request_id": "...",
"errors": [{"code": "...", "message": "...", "field": "..."}]}.
"""

from __future__ import annotations

from typing import Any


class IntercomError(Exception):
    """Base: an HTTP status, an Intercom error code and a message."""

    status: int = 400
    code: str = "client_error"
    message: str = "Bad request"

    def __init__(
        self,
        message: str | None = None,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.message
        self.field = field
        self.headers = dict(headers or {})
        super().__init__(self.message)

    def body(self, request_id: str | None) -> dict[str, Any]:
        err: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field:
            err["field"] = self.field
        return {"type": "error.list", "request_id": request_id, "errors": [err]}


# 400s
class BadRequest(IntercomError):
    code = "bad_request"


class ClientError(IntercomError):
    code = "client_error"


class ParameterInvalid(IntercomError):
    code = "parameter_invalid"
    message = "Invalid parameter"


class ParameterNotFound(IntercomError):
    code = "parameter_not_found"
    message = "Parameter not found"


class ParameterMissing(IntercomError):
    code = "parameter_missing"
    message = "Parameter missing"


class InvalidSortOrder(IntercomError):
    code = "invalid_sort_order"


class InvalidMerge(IntercomError):
    code = "invalid_merge"
    message = (
        "Contacts can only be merged when they are duplicates (matching email or phone). "
        "Pass skip_duplicate_validation=true to override this check."
    )


class IntercomVersionInvalid(IntercomError):
    code = "intercom_version_invalid"
    message = "The requested version could not be found"


class ScrollExists(IntercomError):
    code = "scroll_exists"
    message = "scroll already exists for this workspace"


class ContactCompanyLimitExceeded(IntercomError):
    code = "contact_company_limit_exceeded"
    message = "Contact has reached the maximum of 1000 company associations"


class TagHasDependentObjects(IntercomError):
    code = "tag_has_dependent_objects"
    message = "Unable to delete Tag with dependent objects"


# 401 / 403
class Unauthorized(IntercomError):
    status = 401
    code = "unauthorized"
    message = "Access Token Invalid"


class Forbidden(IntercomError):
    status = 403
    code = "action_forbidden"
    message = "Forbidden"


# 404 / 405 / 406 / 409 / 410 / 413 / 415 / 422
class NotFound(IntercomError):
    status = 404
    code = "not_found"
    message = "Resource Not Found"


class UserNotFound(NotFound):
    message = "User Not Found"


class CompanyNotFound(NotFound):
    code = "company_not_found"
    message = "Company Not Found"


class MethodNotAllowed(IntercomError):
    status = 405
    code = "method_not_allowed"
    message = "Method not allowed"


class NotAcceptable(IntercomError):
    status = 406
    code = "not_acceptable"
    message = "Unsupported Accept header"


class Conflict(IntercomError):
    status = 409
    code = "conflict"
    message = "A contact matching those details already exists"


class ContactMerged(IntercomError):
    status = 410
    code = "contact_merged"
    message = "Contact has been merged"


class PayloadTooLarge(IntercomError):
    status = 413
    code = "request_too_large"
    message = "Request body too large"


class UnsupportedMediaType(IntercomError):
    status = 415
    code = "unsupported_media_type"
    message = "Content-Type must be application/json"


class UnprocessableEntity(IntercomError):
    status = 422
    code = "unprocessable_entity"
    message = "Unprocessable entity"


# 429 / 5xx
class RateLimitExceeded(IntercomError):
    status = 429
    code = "rate_limit_exceeded"
    message = "Exceeded rate limit"


class ServerError(IntercomError):
    status = 500
    code = "server_error"
    message = "Internal server error"


class BadGateway(IntercomError):
    status = 502
    code = "server_error"
    message = "Bad gateway"


class ServiceUnavailable(IntercomError):
    status = 503
    code = "service_unavailable"
    message = "Service unavailable"


class NotImplementedYet(IntercomError):
    """Raised by a route the sandbox lists but does not model (documented in the README)."""

    status = 501
    code = "unsupported"
    message = "This operation is not modelled by the sandbox"
