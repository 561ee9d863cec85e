"""Typed domain errors. Services raise these; each adapter maps them to its own wire format
(REST JSON, TAXII error body, CLI exit code) in exactly one place."""

from __future__ import annotations

from typing import Any


class PalisadeError(Exception):
    """Base class. ``status`` is the HTTP status an adapter should use."""

    status = 400
    title = "Bad request"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class InvalidInput(PalisadeError):
    status = 400
    title = "Invalid input"


class Unauthenticated(PalisadeError):
    status = 401
    title = "Authentication required"


class Forbidden(PalisadeError):
    status = 403
    title = "Forbidden"


class NotFound(PalisadeError):
    status = 404
    title = "Not found"


class Conflict(PalisadeError):
    status = 409
    title = "Conflict"


class PayloadTooLarge(PalisadeError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(PalisadeError):
    status = 415
    title = "Unsupported media type"


class NotAcceptable(PalisadeError):
    status = 406
    title = "Not acceptable"


class Busy(PalisadeError):
    """The store is momentarily saturated; the client should retry after ``retry_after`` s."""

    status = 503
    title = "Service busy"

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after
