"""Security headers on every response.

Why: the portal renders members' own words (names, descriptions); a strict Content Security
Policy means that even a missed escape cannot run script (no inline script, no eval, no
plugins, no framing, no ``<base>`` tricks). ``nosniff`` stops browsers from guessing that a
JSON body is HTML. HSTS is sent only on requests that arrived over HTTPS (as seen through
``ProxyFix`` when ``PALISADE_TRUSTED_PROXIES`` is set), so a laptop on plain HTTP is never told
to refuse itself. A view may set its own value for any of these; it is not overwritten.

Also refused here, before any view runs: a NUL character in the path or the query string. No
id, prefix or filter of ours may contain one, and PostgreSQL rejects it in a text parameter
(a 500 where a clear 400 belongs).
"""

from __future__ import annotations

from flask import Flask, Response, request

from sharing.web.errors import render_error

CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HSTS = "max-age=31536000; includeSubDomains"

HEADERS: dict[str, str] = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def _add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def _refuse_nul() -> Response | None:
    try:
        args = request.args.items(multi=True)
    except UnicodeDecodeError:
        # gunicorn refuses such request lines itself; another WSGI server may pass them on,
        # and Werkzeug raises on first access to request.args.
        return render_error(400, "Bad request", "the query string is not valid UTF-8")
    if "\x00" in request.path or any("\x00" in key or "\x00" in value for key, value in args):
        return render_error(
            400, "Bad request", "NUL characters are not allowed in the path or query string"
        )
    return None


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul)
    app.after_request(_add_headers)
