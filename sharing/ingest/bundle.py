"""From request bytes to a STIX bundle envelope, refusing anything malformed up front.

Everything here fails the whole request (a 400/413 with a message that says what and where):
a body that is not UTF-8, not JSON, has a duplicate key or NaN, is nested too deeply, is not a
STIX 2.1 bundle, or holds more objects than allowed. Per-object problems are not decided here.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from sharing.errors import InvalidInput, PayloadTooLarge

BUNDLE_ID_RE = re.compile(
    r"^bundle--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


class _DuplicateKey(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _no_constants(name: str) -> Any:
    raise InvalidInput(f"body is not valid JSON: {name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """Strict JSON: UTF-8 only, no duplicate keys, no NaN/Infinity, bounded nesting."""
    if not body or not body.strip():
        raise InvalidInput("request body is empty; send a STIX 2.1 bundle")
    if body.startswith(b"\xef\xbb\xbf"):
        body = body[3:]
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"body is not UTF-8: invalid byte 0x{body[exc.start]:02x} at offset {exc.start}"
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constants)
    except _DuplicateKey as exc:
        raise InvalidInput(
            f"body has a duplicate key {str(exc)[:80]!r} in one JSON object"
        ) from None
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidInput("body is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than Python's 4300-digit limit
        raise InvalidInput(f"body is not valid JSON: {exc}") from None


def parse_bundle(body: bytes, *, max_objects: int, envelope: bool = False) -> dict[str, Any]:
    """Return the bundle dict; its ``objects`` is always a list (possibly empty).

    ``envelope``: the body may also be a TAXII 2.1 envelope (``{"objects": [...]}``, what TAXII
    clients post), whose objects then make a bundle of a new id. Parsed here, once: the TAXII
    door used to parse an envelope, write it out as a bundle and have that parsed again."""
    bundle = parse_json(body)
    if envelope and isinstance(bundle, dict) and bundle.get("type") != "bundle":
        objects = bundle.get("objects")
        if not isinstance(objects, list):
            raise InvalidInput('the body must be a TAXII envelope: {"objects": [...]}')
        bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
    elif envelope and not isinstance(bundle, dict):
        raise InvalidInput('the body must be a TAXII envelope: {"objects": [...]}')
    if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
        raise InvalidInput('the body must be a STIX bundle: a JSON object with "type": "bundle"')
    bundle_id = bundle.get("id")
    if not isinstance(bundle_id, str) or not BUNDLE_ID_RE.match(bundle_id):
        raise InvalidInput('the bundle needs an "id" of the form bundle--<UUID>')
    spec = bundle.get("spec_version")
    if spec is not None:
        raise InvalidInput(
            f"bundle has spec_version {str(spec)[:10]!r}: this exchange takes STIX 2.1, whose "
            "bundles carry no spec_version (each object carries its own)"
        )
    objects = bundle.get("objects", [])
    if not isinstance(objects, list):
        raise InvalidInput('the bundle\'s "objects" must be a list')
    if len(objects) > max_objects:
        raise PayloadTooLarge(
            f"the bundle holds {len(objects)} objects; the limit is {max_objects} per bundle"
        )
    bundle["objects"] = objects
    return bundle
