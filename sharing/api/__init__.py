"""REST API under ``/api/v1``: flask-smorest blueprints with marshmallow schemas.

The OpenAPI document is served at ``/api/v1/openapi.json``. Each resource module holds one
blueprint of small views that validate, call one service and render.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

API_PREFIX = "/api/v1"


def register(app: Flask) -> Api:
    app.config.setdefault("API_TITLE", "Palisade exchange API")
    app.config.setdefault("API_VERSION", "1.0")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault(
        "API_SPEC_OPTIONS",
        {
            "components": {
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer"},
                    "basic": {"type": "http", "scheme": "basic"},
                }
            },
            "security": [{"bearer": []}, {"basic": []}],
            "info": {
                "description": "Hashed indicators of model-distillation campaigns: submit STIX "
                "2.1 bundles, match hashed identifiers, read what your markings allow."
            },
        },
    )
    api = Api(app)
    from sharing.api import bundles, match, sightings, whoami
    from sharing.api import range as range_api

    api.register_blueprint(whoami.blueprint)
    api.register_blueprint(bundles.blueprint)
    for module in (match, range_api, sightings):
        api.register_blueprint(module.blueprint)
    app.extensions["palisade_api"] = api
    from sharing.api import docs

    app.register_blueprint(docs.blueprint)
    return api
