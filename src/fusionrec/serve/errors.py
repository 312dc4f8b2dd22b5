"""Errors the service raises on purpose; each carries the HTTP status and a stable code.

::

    FusionrecError
    └── ServeError             status, code
        ├── NotFoundError      404 an id the service does not know
        ├── ConflictError      409 the request clashes with stored state (idempotency key reuse)
        ├── UnsupportedError   409 the served model cannot do this (no embeddings, no content)
        ├── ForgottenUserError 410 the user was forgotten; events for the id are refused
        ├── InvalidInputError  422 a value is out of range or the wrong shape
        ├── UnauthorizedError  401 the API key is missing or wrong
        ├── WritesDisabledError 403 no API key is configured, so write routes are off
        └── StoreUnavailableError 503 the event store does not answer (carries Retry-After)

The HTTP layer turns them into ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

from typing import ClassVar

from fusionrec.errors import FusionrecError


class ServeError(FusionrecError):
    """Base of the service's errors."""

    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ServeError):
    status, code = 404, "not_found"


class ConflictError(ServeError):
    status, code = 409, "conflict"


class UnsupportedError(ServeError):
    status, code = 409, "unsupported"


class ForgottenUserError(ServeError):
    status, code = 410, "user_forgotten"


class InvalidInputError(ServeError):
    status, code = 422, "invalid_input"


class UnauthorizedError(ServeError):
    status, code = 401, "unauthorized"


class WritesDisabledError(ServeError):
    status, code = 403, "writes_disabled"


class StoreUnavailableError(ServeError):
    """The event store timed out, failed or is behind an open circuit breaker; retry after ``retry_after_s``."""

    status, code = 503, "store_unavailable"

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


__all__ = [
    "ConflictError",
    "ForgottenUserError",
    "InvalidInputError",
    "NotFoundError",
    "ServeError",
    "StoreUnavailableError",
    "UnauthorizedError",
    "UnsupportedError",
    "WritesDisabledError",
]
