"""Fast JSON responses for large bodies (status resources, feed pages, match answers).

orjson encodes a 1,000-object TAXII page in ~1 ms where the standard library took ~10 ms
(docs/benchmarks/feed.md); every adapter that writes a large JSON body goes through here.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response


def encode_json(payload: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return orjson.dumps(payload)


def json_response(
    payload: Any,
    status: int = 200,
    mimetype: str = "application/json",
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(encode_json(payload), status=status, mimetype=mimetype, headers=headers)
