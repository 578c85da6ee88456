"""The errors GenFlow raises on purpose, each with its HTTP status and error code.

    GenFlowError                 500 internal
    ├── BadRequest               400 bad_request       (malformed JSON, wrong shape)
    ├── Unauthorized             401 unauthorized      (no or invalid token)
    ├── Forbidden                403 forbidden         (you may see it, not do this to it)
    ├── NotFound                 404 not_found         (unknown, or not yours)
    ├── Conflict                 409 conflict          (state does not allow it)
    ├── PayloadTooLarge          413 payload_too_large
    ├── UnsupportedMediaType     415 unsupported_media_type (an upload that is not text)
    ├── InvalidInput             422 invalid_input     (a field is wrong; details say which)
    ├── RateLimited              429 rate_limited      (retry_after seconds)
    └── StoreUnavailable         503 store_unavailable (the database failed or is unreachable)

The API turns any of these into `{"error": {"code", "message", "details"?}}`.
Foreign exceptions (SQLAlchemy, OpenAI, jsonschema) are translated where they are caught,
never passed through to a client.
"""

from __future__ import annotations

from typing import Any


class GenFlowError(Exception):
    status = 500
    code = "internal"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class BadRequest(GenFlowError):
    status = 400
    code = "bad_request"


class Unauthorized(GenFlowError):
    status = 401
    code = "unauthorized"


class Forbidden(GenFlowError):
    """The caller may see the thing but not do this (an assignee cancelling, a viewer
    deciding a review that is not theirs). Things the caller may not see are NotFound."""

    status = 403
    code = "forbidden"


class NotFound(GenFlowError):
    status = 404
    code = "not_found"


class Conflict(GenFlowError):
    status = 409
    code = "conflict"


class PayloadTooLarge(GenFlowError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(GenFlowError):
    status = 415
    code = "unsupported_media_type"


class InvalidInput(GenFlowError):
    status = 422
    code = "invalid_input"


class RateLimited(GenFlowError):
    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message, {"retry_after": round(retry_after, 1)})
        self.retry_after = retry_after


class StoreUnavailable(GenFlowError):
    status = 503
    code = "store_unavailable"
