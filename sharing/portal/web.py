"""The portal blueprint: CSRF on every unsafe request, HTML errors, security headers.

CSRF is enforced here, for ``/portal`` only (``WTF_CSRF_CHECK_DEFAULT`` stays off for the app):
the REST and TAXII layers authenticate with API keys in a header, which a browser never attaches
on its own, so they need no token. Script-driven posts (browser-side hashing, match) send the
token from ``<meta name="csrf-token">`` in an ``X-CSRFToken`` header.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask.blueprints import BlueprintSetupState
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from sharing.errors import PalisadeError
from sharing.portal import session as portal_session

blueprint = Blueprint(
    "portal",
    __name__,
    url_prefix="/portal",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()

#: Portal-only policy; the hardening layer may set a stricter app-wide one (we never override).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@blueprint.record_once
def _setup(state: BlueprintSetupState) -> None:
    app: Flask = state.app
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", portal_session.ABSOLUTE_TIMEOUT)
    csrf.init_app(app)


@blueprint.before_request
def _protect() -> None:
    if request.method in UNSAFE:
        csrf.protect()


@blueprint.after_request
def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "portal.static":
        headers["Cache-Control"] = "no-store"
    return response


@blueprint.context_processor
def _layout() -> dict[str, Any]:
    return {"me": portal_session.load()}


def _error_page(status: int, title: str, message: str) -> tuple[str, int]:
    if request.accept_mimetypes.best == "application/json" or request.is_json:
        return {"error": title, "message": message, "status": status}, status  # type: ignore[return-value]
    return render_template("portal/error.html", status=status, title=title, message=message), status


@blueprint.errorhandler(CSRFError)
def _csrf(error: CSRFError) -> tuple[str, int]:
    return _error_page(400, "Form expired or forged", error.description or "CSRF check failed")


@blueprint.errorhandler(PalisadeError)
def _domain(error: PalisadeError) -> tuple[str, int]:
    return _error_page(error.status, error.title, error.message)


@blueprint.errorhandler(HTTPException)
def _http(error: HTTPException) -> tuple[str, int]:
    return _error_page(error.code or 500, error.name, error.description or error.name)


from sharing.portal.views import (  # noqa: E402,F401  (routes attach to the blueprint)
    admin,
    auth,
    indicators,
    keys,
    pages,
    submit,
)
