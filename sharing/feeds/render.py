"""Canonical indicators and context objects as STIX 2.1, exactly as one reader may see them.

An indicator is rendered from its :func:`sharing.corroboration.summarise` summary (the one view
match and the portal use too): authored by the exchange's identity, with a name and
description (strict validation wants both), the least restrictive visible TLP marking, the
validity window and revocation the visible reports give, and the corroboration
property-extension. Its ``modified`` is the version the feed log gives for this reader, so two
readers may hold different versions of the same id and each sees a new one exactly when what
it can see changes. Context objects are served as their member sent them, minus Palisade's
ingest-only report extension and, for anonymous reports of others, minus ``created_by_ref``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sharing.corroboration import Summary, decrypt_value
from sharing.crypto.cipher import FieldCipher
from sharing.identifiers import MINHASH_SCHEME, PALISADE_IDENTITY_ID, TLP_MARKING_IDS
from sharing.identifiers.constants import EXTENSION_DEFINITIONS_CREATED
from sharing.identifiers.prompt import PromptSignature
from sharing.identifiers.stix import (
    corroboration_extension,
    extension_definitions,
    palisade_identity,
    prompt_signature_extension,
)
from sharing.ingest.validate import REPORT_EXTENSION_ID

STATIC_DATE_ADDED = datetime.fromisoformat(EXTENSION_DEFINITIONS_CREATED[:-1]).replace(tzinfo=UTC)

KIND_WORDS = {
    "email": "e-mail address",
    "phone": "phone number",
    "payment": "payment fingerprint",
    "handle": "platform handle",
    "device": "device fingerprint",
    "ip": "IP network",
    "prompt": "extraction prompt",
}


def static_objects() -> list[dict[str, Any]]:
    """The exchange's identity and extension definitions: in every collection, first."""
    return [palisade_identity(), *extension_definitions()]


def stamp(value: datetime, timespec: str = "microseconds") -> str:
    """STIX timestamp of an aware UTC datetime (``isoformat`` is C; ``strftime`` is not)."""
    return value.astimezone(UTC).isoformat(timespec=timespec)[:-6] + "Z"


def render_indicator(
    cipher: FieldCipher,
    summary: Summary,
    value_ct: bytes,
    signature_ct: bytes | None,
    key_id: str,
    version: datetime,
) -> dict[str, Any]:
    value = decrypt_value(cipher, summary.stix_id, value_ct)
    words = KIND_WORDS.get(summary.kind, summary.kind)
    # Summary properties recompute from the reports on every access: read each once.
    reporter_count, confidence, score = summary.reporter_count, summary.confidence, summary.score
    first_seen, valid_from, until = summary.first_seen, summary.valid_from, summary.valid_until
    reporters = ", ".join(summary.reporters) or "no active reporter"
    description = (
        f"A keyed hash of a normalised {words} that member labs reported in model-distillation "
        f"campaigns. Reported by {reporter_count} member(s) you can see ({reporters}); "
        f"confidence {confidence}, score {score}."
    )
    if summary.campaigns:
        description += f" Campaigns: {', '.join(summary.campaigns)}."
    if summary.disputed:
        description += " Disputed by at least one member."
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": summary.stix_id,
        "created_by_ref": PALISADE_IDENTITY_ID,
        "created": stamp(min(first_seen, version)),
        "modified": stamp(version),
        "name": f"Hashed {words} ({summary.kind})",
        "description": description,
        "indicator_types": ["malicious-activity"],
        "pattern": f"[hashed-identifier:kind = '{summary.kind}' AND "
        f"hashed-identifier:value = '{value}']",
        "pattern_type": "stix",
        "pattern_version": "2.1",
        "valid_from": stamp(valid_from),
        "confidence": confidence,
        "object_marking_refs": [TLP_MARKING_IDS[summary.tlp]],
    }
    if until is not None and until > valid_from:
        obj["valid_until"] = stamp(until)
    if summary.revoked:
        obj["revoked"] = True
    extensions = corroboration_extension(
        reporter_count=reporter_count,
        first_seen=stamp(first_seen, "milliseconds"),
        last_seen=stamp(summary.last_seen, "milliseconds"),
        sighting_count=summary.sighting_count,
        disputed=summary.disputed,
        score=score,
    )
    if signature_ct is not None:
        values = json.loads(cipher.decrypt(signature_ct, f"indicators.signature:{summary.stix_id}"))
        extensions.update(
            prompt_signature_extension(PromptSignature(MINHASH_SCHEME, tuple(values), key_id))
        )
    obj["extensions"] = extensions
    return obj


def render_context(
    cipher: FieldCipher, stix_id: str, body_ct: bytes, *, anonymous: bool, own: bool
) -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(cipher.decrypt(body_ct, f"context.body:{stix_id}"))
    extensions = obj.get("extensions")
    if isinstance(extensions, dict) and REPORT_EXTENSION_ID in extensions:
        extensions = {k: v for k, v in extensions.items() if k != REPORT_EXTENSION_ID}
        if extensions:
            obj["extensions"] = extensions
        else:
            obj.pop("extensions")
    if anonymous and not own:
        obj.pop("created_by_ref", None)
    return obj
