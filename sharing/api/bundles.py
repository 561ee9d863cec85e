"""``POST /api/v1/bundles`` and ``GET /api/v1/status/<id>``: submit STIX and read the outcome."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from flask.views import MethodView
from flask_smorest import Blueprint

from sharing import ingest
from sharing.api.schemas import StatusSchema
from sharing.errors import UnsupportedMediaType
from sharing.web.after_response import freed_after_response
from sharing.web.auth import current_principal, require_scope
from sharing.web.context import runtime
from sharing.web.responses import json_response

blueprint = Blueprint("bundles", __name__, url_prefix="/api/v1", description="Submit STIX bundles")

ACCEPTED_TYPES = ("application/stix+json", "application/json", "application/taxii+json")

BUNDLE_BODY = {
    "required": True,
    "description": "A STIX 2.1 bundle of hashed-identifier indicators and context objects.",
    "content": {
        media: {
            "schema": {
                "type": "object",
                "required": ["type", "id"],
                "properties": {
                    "type": {"type": "string", "enum": ["bundle"]},
                    "id": {"type": "string"},
                    "objects": {"type": "array", "items": {"type": "object"}},
                },
            }
        }
        for media in ("application/stix+json", "application/json")
    },
}


def check_content_type() -> None:
    mimetype = (request.mimetype or "").lower()
    if mimetype not in ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/stix+json or application/json, "
            f"not {request.mimetype or 'missing'!r}"
        )


@blueprint.route("/bundles")
class Bundles(MethodView):
    @blueprint.doc(requestBody=BUNDLE_BODY)
    @blueprint.response(202, StatusSchema)
    @blueprint.alt_response(400, description="Not JSON, not UTF-8, or not a STIX 2.1 bundle")
    @blueprint.alt_response(413, description="Body or object count over the limit")
    @blueprint.alt_response(415, description="Unsupported Content-Type")
    @require_scope("write")
    def post(self) -> Response:
        """Submit a bundle; every object gets an outcome in the returned status resource."""
        check_content_type()
        with freed_after_response() as after:
            report = ingest.submit_bundle(
                runtime(), current_principal(), request.get_data(), keep=after.keep
            )
            after.keep.append(report)
            # Serialised directly: a 10,000-object status through marshmallow costs more than
            # the validation of the bundle. StatusSchema still documents the shape.
            return after.attach(json_response(report.as_taxii(), 202))


@blueprint.route("/status/<string:status_id>")
class Status(MethodView):
    @blueprint.response(200, StatusSchema)
    @blueprint.alt_response(404, description="No such submission of yours")
    @require_scope("write")
    def get(self, status_id: str) -> dict[str, Any]:
        """The status of one of your own submissions."""
        return ingest.get_status(runtime(), current_principal(), status_id)
