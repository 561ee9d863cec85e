"""``POST /api/v1/sightings``: report that a matched indicator was seen, or a false positive.

Needs the ``write`` scope: unlike a match, a sighting changes what every other member sees
(corroboration, score, the disputed flag, the TAXII feed), so a read-only match key cannot.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from sharing import sightings
from sharing.api.match_schemas import SightingRequestSchema, SightingResponseSchema
from sharing.web.auth import current_principal, require_scope
from sharing.web.context import runtime

blueprint = Blueprint(
    "sightings", __name__, url_prefix="/api/v1", description="Sightings and false positives"
)


@blueprint.route("/sightings")
class Sightings(MethodView):
    @blueprint.arguments(SightingRequestSchema, error_status_code=400)
    @blueprint.response(201, SightingResponseSchema)
    @blueprint.alt_response(403, description="The key lacks the write scope")
    @blueprint.alt_response(404, description="No indicator you can see has that id or hash")
    @require_scope("write")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Report a sighting ("seen") or a false positive for an indicator you can see."""
        item = sightings.SightingIn(
            kind=body["type"],
            indicator_id=body.get("indicator_id"),
            indicator_kind=body.get("kind"),
            value=body.get("value"),
            count=body["count"],
            anonymous=body["anonymous"],
            tlp=body.get("tlp"),
        )
        return sightings.report_sighting(runtime(), current_principal(), item), 201
