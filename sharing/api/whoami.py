"""``GET /api/v1/whoami``: which organization and scopes a key stands for (for setup checks)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from sharing.web.auth import current_principal

blueprint = Blueprint("whoami", __name__, url_prefix="/api/v1/whoami", description="Identity")


class WhoAmISchema(Schema):
    organization = fields.String(required=True)
    scopes = fields.List(fields.String(), required=True)
    key_prefix = fields.String(allow_none=True)


@blueprint.route("")
class WhoAmI(MethodView):
    @blueprint.response(200, WhoAmISchema)
    def get(self) -> dict[str, Any]:
        """The caller's organization and the scopes of the key it presented."""
        principal = current_principal()
        return {
            "organization": principal.org_name,
            "scopes": sorted(principal.scopes),
            "key_prefix": principal.api_key_prefix,
        }
