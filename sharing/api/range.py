"""``GET /api/v1/range/<prefix>``: k-anonymity lookup, hash prefix in, padded suffixes out.

Caching: the answer depends on who asks (TLP and sharing groups decide which suffixes are
listed), so it is marked ``public`` for at most :data:`MAX_AGE` seconds but varies on
``Authorization``: a standards-following shared cache (RFC 9111 section 4.1) keeps one copy per
credential and never serves one member's answer to another. Operators whose CDN ignores
``Vary`` must not cache ``/api/v1/range`` at all (docs/MATCHING.md). ``max-age`` bounds
staleness: a revocation disappears from cached range answers within that time, and at once
from ``POST /match``, which is never cached.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from sharing import matching
from sharing.api.match_schemas import RangeSchema
from sharing.web.auth import current_principal, require_scope
from sharing.web.context import runtime

blueprint = Blueprint(
    "range", __name__, url_prefix="/api/v1", description="k-anonymity range lookup"
)

MAX_AGE = 30
CACHE_HEADERS = {
    "Cache-Control": f"public, max-age={MAX_AGE}, s-maxage={MAX_AGE}",
    "Vary": "Authorization",
}


@blueprint.route("/range/<string:prefix>")
class Range(MethodView):
    @blueprint.response(200, RangeSchema)
    @blueprint.alt_response(400, description="Not 5 hex digits")
    @blueprint.alt_response(403, description="The key lacks the match scope")
    @require_scope("match")
    def get(self, prefix: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Suffixes of visible, active indicators under a 5-hex-digit prefix, padded."""
        answer = matching.range_lookup(runtime(), current_principal(), prefix)
        return answer.as_dict(), 200, CACHE_HEADERS
