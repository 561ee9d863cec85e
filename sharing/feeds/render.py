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
from typing import Any, NamedTuple

from sharing.corroboration import Summary, decrypt_values
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
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec=timespec)[:-6] + "Z"


class Stamps(dict[datetime, str]):
    """Microsecond STIX timestamps, each distinct instant formatted once per page (the reports
    of one bundle share their times, so a page repeats few distinct ones)."""

    def __missing__(self, value: datetime) -> str:
        text = self[value] = stamp(value)
        return text


class IndicatorRow(NamedTuple):
    """What rendering one indicator needs besides its summary: its stored columns and the
    version (``modified``) this reader is served."""

    summary: Summary
    value_ct: bytes
    signature_ct: bytes | None
    key_id: str
    version: datetime


def render_indicators(cipher: FieldCipher, items: list[IndicatorRow]) -> list[dict[str, Any]]:
    """The STIX objects for ``items``, in order: values decrypted in one batch, each summary's
    properties computed once, timestamps formatted once per distinct instant."""
    values = decrypt_values(cipher, [(item.summary.stix_id, item.value_ct) for item in items])
    stamps = Stamps()
    out: list[dict[str, Any]] = []
    for item, value in zip(items, values, strict=True):
        summary, facts = item.summary, item.summary.facts()
        kind = summary.kind
        words = KIND_WORDS.get(kind, kind)
        reporters = ", ".join(facts.reporters) or "no active reporter"
        description = (
            f"A keyed hash of a normalised {words} that member labs reported in "
            f"model-distillation campaigns. Reported by {facts.reporter_count} member(s) you can "
            f"see ({reporters}); confidence {facts.confidence}, score {facts.score}."
        )
        if summary.campaigns:
            description += f" Campaigns: {', '.join(summary.campaigns)}."
        if summary.disputed:
            description += " Disputed by at least one member."
        version = item.version
        obj: dict[str, Any] = {
            "type": "indicator",
            "spec_version": "2.1",
            "id": summary.stix_id,
            "created_by_ref": PALISADE_IDENTITY_ID,
            "created": stamps[min(facts.first_seen, version)],
            "modified": stamps[version],
            "name": f"Hashed {words} ({kind})",
            "description": description,
            "indicator_types": ["malicious-activity"],
            "pattern": f"[hashed-identifier:kind = '{kind}' AND "
            f"hashed-identifier:value = '{value}']",
            "pattern_type": "stix",
            "pattern_version": "2.1",
            "valid_from": stamps[facts.valid_from],
            "confidence": facts.confidence,
            "object_marking_refs": [TLP_MARKING_IDS[facts.tlp]],
        }
        until = facts.valid_until
        if until is not None and until > facts.valid_from:
            obj["valid_until"] = stamps[until]
        if not facts.active_reports:
            obj["revoked"] = True
        # the extension's times have millisecond precision: cut the microsecond stamp
        extensions = corroboration_extension(
            reporter_count=facts.reporter_count,
            first_seen=stamps[facts.first_seen][:-4] + "Z",
            last_seen=stamps[facts.last_seen][:-4] + "Z",
            sighting_count=summary.sighting_count,
            disputed=summary.disputed,
            score=facts.score,
        )
        if item.signature_ct is not None:
            signature = cipher.decrypt(item.signature_ct, f"indicators.signature:{summary.stix_id}")
            extensions.update(
                prompt_signature_extension(
                    PromptSignature(MINHASH_SCHEME, tuple(json.loads(signature)), item.key_id)
                )
            )
        obj["extensions"] = extensions
        out.append(obj)
    return out


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
