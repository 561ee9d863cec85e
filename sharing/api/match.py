"""``POST /api/v1/match``: ask whether other members have seen these hashed identifiers."""

from __future__ import annotations

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from sharing import matching
from sharing.api.match_schemas import MatchRequestSchema, MatchResponseSchema
from sharing.web.auth import current_principal, require_scope
from sharing.web.context import runtime
from sharing.web.responses import json_response

blueprint = Blueprint(
    "match", __name__, url_prefix="/api/v1", description="Match hashed identifiers"
)


@blueprint.route("/match")
class Match(MethodView):
    @blueprint.doc(
        requestBody={
            "required": True,
            "content": {"application/json": {"schema": MatchRequestSchema}},
        }
    )
    @blueprint.response(200, MatchResponseSchema)
    @blueprint.alt_response(400, description="Malformed body or item (details.index names it)")
    @blueprint.alt_response(403, description="The key lacks the match scope")
    @blueprint.alt_response(413, description="More items than max_match_items")
    @require_scope("match")
    def post(self) -> Response:
        """One result per item, in order; matches only from reports you may see."""
        answer = matching.match(runtime(), current_principal(), request.get_data())
        g.match_items = len(answer["results"])  # counted by the metrics hook
        # Rendered directly: marshmallow would cost more than the lookups on big batches.
        return json_response(answer, headers={"Cache-Control": "no-store"})
