"""Exceptions the member SDK raises, so callers can tell "fix your input" from "try later".

A member's pipeline needs to decide what to do on failure without parsing strings: a bad API
key or an invalid bundle will not get better by retrying, an unreachable server might.  Every
error raised because of a server answer carries the server's own message, status and body.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "EndpointNotFound",
    "PalisadeClientError",
    "PermissionDenied",
    "RowRejected",
    "ServerUnavailable",
    "SubmissionTimeout",
]


class PalisadeClientError(Exception):
    """Base class of every error the member SDK raises on purpose."""


class RowRejected(PalisadeClientError, ValueError):
    """One input value cannot become an indicator; ``kind`` and ``reason`` say why.

    ``reason`` never contains the raw value, so it is safe to log or show to a colleague.
    """

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind
        self.reason = reason


class ServerUnavailable(PalisadeClientError):
    """The server could not be reached, timed out or answered 5xx: retrying later may help.

    ``connection_lost``: no answer at all (refused, reset, or closed before a response), so the
    client may safely send a request again when sending it twice does no harm."""

    def __init__(
        self, message: str, status: int | None = None, *, connection_lost: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.connection_lost = connection_lost


class ApiError(PalisadeClientError):
    """The server refused the request (4xx).  ``message`` is the server's explanation."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error: str | None = None,
        details: Any = None,
        url: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.error = error
        self.details = details
        self.url = url
        self.body = body


class AuthenticationError(ApiError):
    """401: the API key is missing, unknown, revoked or expired."""


class PermissionDenied(ApiError):
    """403: the key lacks the scope this call needs (read, write or match)."""


class EndpointNotFound(ApiError):
    """404: the resource (or the whole endpoint, on an older server) does not exist."""


class SubmissionTimeout(PalisadeClientError):
    """A TAXII submission did not reach status ``complete`` within the wait limit."""

    def __init__(self, message: str, status: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
