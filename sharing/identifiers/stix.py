"""The STIX 2.1 shapes Palisade defines: the ``hashed-identifier`` SCO, its pattern, and the
extension definitions members and peers need to interpret Palisade's objects.

The pattern grammar accepted from members is deliberately one exact shape, parsed by a regex
rather than a STIX pattern engine: indicators are matched by exact hash lookups, so anything
richer (OR, other object types, comparison operators) would be silently misread.  The
published extension-definition objects are built here and mirrored byte-for-byte in
``schemas/extension-definitions.json`` (a test keeps the two equal).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from .constants import (
    CORROBORATION_EXTENSION_ID,
    EXTENSION_DEFINITIONS_CREATED,
    HASHED_IDENTIFIER_EXTENSION_ID,
    HASHED_IDENTIFIER_TYPE,
    KINDS,
    MINHASH_SCHEME,
    PALISADE_IDENTITY_ID,
    PROMPT_SIGNATURE_EXTENSION_ID,
    REPORT_EXTENSION_ID,
)
from .hashing import HASH_RE, InvalidHash, parse_hash
from .prompt import PromptSignature, encode_signature

__all__ = [
    "EXTENSION_DEFINITIONS_BUNDLE_ID",
    "PATTERN_RE",
    "InvalidPattern",
    "build_pattern",
    "corroboration_extension",
    "extension_definitions",
    "extension_definitions_bundle",
    "hashed_identifier_sco",
    "palisade_identity",
    "parse_pattern",
    "prompt_signature_extension",
]

EXTENSION_DEFINITIONS_BUNDLE_ID = "bundle--cfef0df4-cdc1-48e3-beda-87c65ccf2d18"

PATTERN_RE = re.compile(
    r"\[hashed-identifier:kind = '([a-z]+)' AND hashed-identifier:value = '([^'\\]*)'\]"
)


class InvalidPattern(ValueError):
    """An indicator pattern that is not exactly Palisade's hashed-identifier shape."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"invalid pattern: {reason}")
        self.reason = reason


def build_pattern(kind: str, value: str) -> str:
    """``[hashed-identifier:kind = '<kind>' AND hashed-identifier:value = '<hash>']``."""
    if kind not in KINDS:
        raise InvalidPattern(f"unknown kind {kind!r}")
    try:
        parse_hash(value)
    except InvalidHash as exc:
        raise InvalidPattern(exc.reason) from None
    return f"[hashed-identifier:kind = '{kind}' AND hashed-identifier:value = '{value}']"


def parse_pattern(pattern: str) -> tuple[str, str]:
    """Return ``(kind, hash)`` from a pattern of exactly the :func:`build_pattern` shape."""
    if not isinstance(pattern, str):
        raise InvalidPattern("not a string")
    m = PATTERN_RE.fullmatch(pattern)
    if m is None:
        raise InvalidPattern(
            "expected [hashed-identifier:kind = '<kind>' AND hashed-identifier:value = '<hash>']"
        )
    kind, value = m.groups()
    if kind not in KINDS:
        raise InvalidPattern(f"unknown kind {kind!r}")
    if not HASH_RE.fullmatch(value):
        try:
            parse_hash(value)
        except InvalidHash as exc:
            raise InvalidPattern(exc.reason) from None
    return kind, value


def hashed_identifier_sco(kind: str, value: str) -> dict[str, Any]:
    """A ``hashed-identifier`` SCO (random UUIDv4 id).

    STIX recommends (SHOULD) UUIDv5 ids for SCOs, but stix2-validator 3.2.0 in strict mode
    rejects any non-v4 id on a type it does not know, and everything Palisade emits must pass
    it.  Nothing keys on SCO ids: matching and deduplication use the hash itself.
    """
    build_pattern(kind, value)  # validates both
    return {
        "type": HASHED_IDENTIFIER_TYPE,
        "spec_version": "2.1",
        "id": f"{HASHED_IDENTIFIER_TYPE}--{uuid.uuid4()}",
        "kind": kind,
        "value": value,
        "extensions": {HASHED_IDENTIFIER_EXTENSION_ID: {"extension_type": "new-sco"}},
    }


def prompt_signature_extension(sig: PromptSignature) -> dict[str, Any]:
    """The ``extensions`` entry a prompt indicator carries for its MinHash signature."""
    body: dict[str, Any] = {
        "extension_type": "property-extension",
        "scheme": sig.scheme,
        "minhash": encode_signature(sig),
    }
    if sig.key_id:
        body["key_id"] = sig.key_id
    return {PROMPT_SIGNATURE_EXTENSION_ID: body}


def _timestamp(value: datetime | str) -> str:
    if isinstance(value, str):
        return value
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    )


def corroboration_extension(
    *,
    reporter_count: int,
    first_seen: datetime | str,
    last_seen: datetime | str,
    sighting_count: int = 0,
    disputed: bool = False,
    score: float = 0,
) -> dict[str, Any]:
    """The ``extensions`` entry the server puts on canonical indicators."""
    return {
        CORROBORATION_EXTENSION_ID: {
            "extension_type": "property-extension",
            "reporter_count": reporter_count,
            "first_seen": _timestamp(first_seen),
            "last_seen": _timestamp(last_seen),
            "sighting_count": sighting_count,
            "disputed": disputed,
            "score": score,
        }
    }


def palisade_identity() -> dict[str, Any]:
    """The exchange's own identity: author of extension definitions and canonical indicators."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": PALISADE_IDENTITY_ID,
        "created": EXTENSION_DEFINITIONS_CREATED,
        "modified": EXTENSION_DEFINITIONS_CREATED,
        "name": "Palisade",
        "description": "Cross-company exchange for hashed indicators of model-distillation "
        "campaigns.",
        "identity_class": "organization",
    }


def _extension_definition(
    ext_id: str, name: str, description: str, schema_file: str, extension_type: str
) -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": ext_id,
        "created_by_ref": PALISADE_IDENTITY_ID,
        "created": EXTENSION_DEFINITIONS_CREATED,
        "modified": EXTENSION_DEFINITIONS_CREATED,
        "name": name,
        "description": description,
        "schema": f"JSON Schema in the Palisade distribution: schemas/{schema_file}",
        "version": "1.0.0",
        "extension_types": [extension_type],
    }


def extension_definitions() -> list[dict[str, Any]]:
    """The four extension-definition objects Palisade publishes."""
    return [
        _extension_definition(
            HASHED_IDENTIFIER_EXTENSION_ID,
            "hashed-identifier",
            "A keyed hash of a normalised identifier (e-mail, phone, payment fingerprint, "
            "handle, device fingerprint, IP network or prompt): properties kind and value "
            "'hmac-sha256:<key_id>:<hex>'.",
            "hashed-identifier.schema.json",
            "new-sco",
        ),
        _extension_definition(
            PROMPT_SIGNATURE_EXTENSION_ID,
            "prompt-signature",
            f"Keyed MinHash signature ({MINHASH_SCHEME}) of the prompt an indicator "
            "describes, so that paraphrases can be matched without revealing the text.",
            "prompt-signature.schema.json",
            "property-extension",
        ),
        _extension_definition(
            CORROBORATION_EXTENSION_ID,
            "corroboration",
            "How many members report a canonical indicator, when it was first and last "
            "seen, sightings, whether it is disputed, and its decayed score.",
            "corroboration.schema.json",
            "property-extension",
        ),
        _extension_definition(
            REPORT_EXTENSION_ID,
            "palisade-report",
            "How the submitting member shares what it sends: anonymous (others see 'a "
            "member') and sharing_group (the group whose members may see it; required with "
            "TLP:RED).",
            "report.schema.json",
            "property-extension",
        ),
    ]


def extension_definitions_bundle() -> dict[str, Any]:
    """Palisade's identity and extension definitions: schemas/extension-definitions.json."""
    return {
        "type": "bundle",
        "id": EXTENSION_DEFINITIONS_BUNDLE_ID,
        "objects": [palisade_identity(), *extension_definitions()],
    }
