"""The app factory: builds a Runtime, registers blueprints and error handlers. No globals."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from sharing.config import Settings
from sharing.runtime import Runtime
from sharing.web.request import PalisadeRequest

EXTENSION_KEY = "palisade"


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the WSGI app.

    ``config`` may hold Flask settings (upper case), Settings overrides (lower case, e.g.
    ``database_url``), or ready-made pieces for tests: ``settings``, ``database``,
    ``key_source``.
    """
    config = dict(config or {})
    settings = config.pop("settings", None)
    database = config.pop("database", None)
    key_source = config.pop("key_source", None)
    flask_config = {k: v for k, v in config.items() if k.isupper()}
    overrides = {k: v for k, v in config.items() if not k.isupper()}
    if settings is None:
        settings = Settings.from_env(overrides=overrides)

    runtime = Runtime.build(settings, database=database, key_source=key_source)

    app = Flask("sharing", instance_path=str(settings.instance_path), instance_relative_config=True)
    app.request_class = PalisadeRequest
    app.config.update(
        SECRET_KEY=runtime.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        JSON_SORT_KEYS=False,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        PALISADE_SETTINGS=settings,
    )
    app.config.update(flask_config)
    app.extensions[EXTENSION_KEY] = runtime
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]

    from sharing.api import register as register_api
    from sharing.portal.web import blueprint as portal_blueprint
    from sharing.taxii import blueprint as taxii_blueprint
    from sharing.web import connection_scope, errors, health, observability, ratelimit, security

    app.register_blueprint(health.blueprint)
    register_api(app)
    app.register_blueprint(taxii_blueprint)
    app.register_blueprint(portal_blueprint)
    # Last, so that ours replace flask-smorest's default HTTPException handler.
    errors.register(app)
    observability.init_app(app)
    ratelimit.init_app(app)
    security.init_app(app)
    connection_scope.init_app(app)

    if not app.debug:
        logging.getLogger("sharing").setLevel(logging.INFO)
    return app


def runtime_of(app: Flask) -> Runtime:
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]
