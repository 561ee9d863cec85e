"""The one place where errors become HTTP responses.

Domain errors (:class:`sharing.errors.PalisadeError`) and Werkzeug's HTTP errors are rendered as
JSON for the REST API and the operational endpoints, and as TAXII error bodies with the TAXII
media type under ``/taxii2``. A database that is unreachable or locked is a 503 with
``Retry-After``: the request can be retried as it is. Anything unexpected becomes a logged
500 with a request id and no internals; the test suite treats any 500 as a bug.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from sharing.errors import Busy, PalisadeError

log = logging.getLogger("sharing.web")

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"


def _body(status: int, title: str, description: str, details: dict[str, Any] | None) -> dict:
    body: dict[str, Any] = {"title": title, "description": description, "http_status": str(status)}
    if details:
        body["details"] = details
    return body


def render_error(
    status: int,
    title: str,
    description: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    if request.path.startswith("/taxii2"):
        body = _body(status, title, description, details)
        body["error_id"] = str(uuid.uuid4())
        response = jsonify(body)
        response.headers["Content-Type"] = TAXII_MEDIA_TYPE
    else:
        payload: dict[str, Any] = {"error": title, "message": description, "status": status}
        if details:
            payload["details"] = details
        response = jsonify(payload)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if status == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="palisade"')
    return response


def register(app: Flask) -> None:
    @app.errorhandler(PalisadeError)
    def _domain(error: PalisadeError) -> Response:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Busy) else None
        return render_error(error.status, error.title, error.message, error.details, headers)

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        description = error.description or error.name
        if status == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            description = f"request body is larger than the limit of {limit} bytes"
        details = None
        # flask-smorest/webargs put field errors on the exception
        messages = getattr(error, "data", {}).get("messages") if hasattr(error, "data") else None
        if messages:
            details = {"fields": messages}
            description = "the request did not match the expected schema"
        response = render_error(status, error.name, description, details)
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response

    @app.errorhandler(OperationalError)
    def _database_unavailable(error: OperationalError) -> Response:
        # The database went away (restart, failover, a connection dropped) or is locked: the
        # request may be retried as it is. The pool has already discarded dead connections.
        log.warning("database unavailable on %s %s: %s", request.method, request.path, error.orig)
        return render_error(
            503,
            "Service busy",
            "the database is unavailable for the moment; retry",
            headers={"Retry-After": "1"},
        )

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        error_id = str(uuid.uuid4())
        log.exception("unhandled error %s on %s %s", error_id, request.method, request.path)
        return render_error(
            500, "Internal error", f"an unexpected error occurred (reference {error_id})"
        )
