"""TAXII 2.1 wire rules shared by every view: media types, query filters, responses.

Content negotiation happens before authentication (406 costs nothing and reveals nothing).
Every response, errors included (``sharing.web.errors``), carries the TAXII media type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, request

from sharing.errors import InvalidInput, NotAcceptable, UnsupportedMediaType
from sharing.feeds import Filters
from sharing.ingest.validate import parse_timestamp
from sharing.web.responses import encode_json

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
_TAXII = "application/taxii+json"
VERSION_KEYWORDS = ("first", "last", "all")


def _is_taxii(media: str) -> bool:
    kind, *params = (p.strip() for p in media.split(";"))
    if kind.lower() != _TAXII:
        return False
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "version" and value.strip().strip('"') != "2.1":
            return False
    return True


def check_accept() -> None:
    accept = request.headers.get("Accept", "")
    if not any(_is_taxii(media) for media in accept.split(",") if media.strip()):
        raise NotAcceptable(f"this is a TAXII 2.1 server: send Accept: {TAXII_MEDIA_TYPE}")


def check_content_type() -> None:
    if not _is_taxii(request.headers.get("Content-Type", "") or "x"):
        raise UnsupportedMediaType(
            f"Content-Type must be {TAXII_MEDIA_TYPE}, not "
            f"{request.headers.get('Content-Type') or 'missing'!r}"
        )


def encode(body: Any) -> bytes:
    """Compact UTF-8 JSON (a thousand-object page is the largest body the server writes)."""
    return encode_json(body)


def respond(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(b"" if body is None else encode(body), status=status)
    response.headers["Content-Type"] = TAXII_MEDIA_TYPE
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _timestamp(value: str, what: str) -> datetime:
    parsed = parse_timestamp(value)
    if parsed is None:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                raise ValueError("no time zone")
            # OverflowError: an offset that moves year 1 or 9999 out of range
            parsed = parsed.astimezone(UTC)
        except (ValueError, OverflowError):
            raise InvalidInput(
                f"{what} must be a timestamp like 2026-01-31T12:00:00.000000Z"
            ) from None
    return parsed


def _values(name: str) -> tuple[str, ...]:
    found: list[str] = []
    for raw in request.args.getlist(name):
        found.extend(v.strip() for v in raw.split(",") if v.strip())
    return tuple(found)


def parse_filters(*, object_id: str | None = None, versions: str = "last") -> Filters:
    args = request.args
    added_after = _timestamp(args["added_after"], "added_after") if "added_after" in args else None
    wanted: list[str | datetime] = []
    for value in _values("match[version]") or (versions,):
        wanted.append(value if value in VERSION_KEYWORDS else _timestamp(value, "match[version]"))
    return Filters(
        added_after=added_after,
        ids=(object_id,) if object_id else _values("match[id]"),
        types=_values("match[type]"),
        versions=tuple(wanted),
        spec_versions=_values("match[spec_version]"),
    )


def parse_limit() -> int | None:
    raw = request.args.get("limit")
    if raw is None:
        return None
    # isascii: str.isdigit() also accepts digits int() refuses, such as "²"
    digits = raw.lstrip("0")
    if not (raw.isascii() and raw.isdigit()) or not digits:
        raise InvalidInput("limit must be a positive integer")
    # Beyond any page size (the server caps it), and int() refuses over 4300 digits.
    return int(digits) if len(digits) <= 18 else 10**18


def page_headers(first: str | None, last: str | None) -> dict[str, str]:
    if first is None or last is None:
        return {}
    return {"X-TAXII-Date-Added-First": first, "X-TAXII-Date-Added-Last": last}
