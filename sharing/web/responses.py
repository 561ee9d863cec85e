"""Fast JSON responses for large bodies (status resources, feed pages, match answers)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_response(payload: Any, status: int = 200, mimetype: str = "application/json") -> Response:
    return Response(_encode(payload), status=status, mimetype=mimetype)
