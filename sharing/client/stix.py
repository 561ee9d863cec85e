"""The STIX objects a member submits: one shape, shared by the SDK and the streaming CLI.

``BundleBuilder`` (in memory) and ``palisade hash`` (streaming millions of rows) must emit
byte-compatible indicators, so both get their objects from here.  The streaming path cannot
afford ``json.dumps`` of a dict per row, so :class:`IndicatorTemplates` serialises the shape
once per combination of (kind, TLP, confidence, valid_until, ...) with placeholders, and a row
then costs two string concatenations.  Every indicator has a ``name`` and a ``description``
(stix2-validator's strict mode asks for both), neither of which ever contains the raw value.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Final

from sharing.identifiers import TLP_MARKING_IDS, build_pattern, constants

__all__ = [
    "KIND_LABELS",
    "REPORT_EXTENSION_ID",
    "IndicatorTemplates",
    "campaign_object",
    "indicator_object",
    "intrusion_set_object",
    "relationship_object",
    "report_extension",
    "stix_timestamp",
    "uuid4_batch",
    "uuid4_strings",
]

#: Palisade's report property-extension (anonymity, sharing group), from the shared spec.
REPORT_EXTENSION_ID: Final = constants.REPORT_EXTENSION_ID

KIND_LABELS: Final[dict[str, str]] = {
    "email": "e-mail address",
    "phone": "phone number",
    "payment": "payment fingerprint",
    "handle": "platform handle",
    "device": "device fingerprint",
    "ip": "IP address or range",
    "prompt": "extraction prompt",
}

_INDICATOR_TYPES: Final = ["malicious-activity"]
_ID_PLACEHOLDER = "\x00ID\x00"
_HASH_PLACEHOLDER = "\x00HASH\x00"


def stix_timestamp(when: datetime | None = None) -> str:
    """A STIX timestamp with millisecond precision: ``2026-11-27T20:54:24.123Z``."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


#: Per 16 random bytes: keep everything but the version nibble and the variant's top bits ...
_UUID4_KEEP = bytes.fromhex("ffffffffffff0fff3fffffffffffffff")
#: ... and set version 4 and variant 0b10 (RFC 9562).
_UUID4_SET = bytes.fromhex("00000000000040008000000000000000")


@lru_cache(maxsize=4)
def _uuid4_masks(n: int) -> tuple[int, int]:
    return int.from_bytes(_UUID4_KEEP * n), int.from_bytes(_UUID4_SET * n)


def uuid4_batch(n: int) -> list[str]:
    """``n`` random UUIDv4 strings at once, ~5x cheaper than ``str(uuid.uuid4())`` per id.

    Draws ``os.urandom`` once and sets the version and variant bits of all ``n`` ids with
    one big-integer AND and OR, so the ids are exactly what ``uuid.uuid4()`` would produce.
    """
    keep, put = _uuid4_masks(n)
    h = ((int.from_bytes(os.urandom(16 * n)) & keep) | put).to_bytes(16 * n).hex()
    return [
        f"{h[i : i + 8]}-{h[i + 8 : i + 12]}-{h[i + 12 : i + 16]}-{h[i + 16 : i + 20]}-"
        f"{h[i + 20 : i + 32]}"
        for i in range(0, 32 * n, 32)
    ]


def uuid4_strings(batch: int = 4096) -> Iterator[str]:
    """Endless random UUIDv4 strings, drawn :func:`uuid4_batch` at a time."""
    while True:
        yield from uuid4_batch(batch)


def report_extension(anonymous: bool, sharing_group: str | None) -> dict[str, Any] | None:
    """The report extension entry, or None when it would say nothing (named, no group)."""
    if not anonymous and not sharing_group:
        return None
    body: dict[str, Any] = {"extension_type": "property-extension", "anonymous": anonymous}
    if sharing_group:
        body["sharing_group"] = sharing_group
    return {REPORT_EXTENSION_ID: body}


def _markings(obj: dict[str, Any], tlp: str | None) -> None:
    if tlp is not None:
        obj["object_marking_refs"] = [TLP_MARKING_IDS[tlp]]


def indicator_object(
    *,
    indicator_id: str,
    kind: str,
    value: str,
    key_id: str,
    timestamp: str,
    tlp: str | None = None,
    confidence: int | None = None,
    valid_until: str | None = None,
    anonymous: bool = False,
    sharing_group: str | None = None,
    extensions: dict[str, Any] | None = None,
    name: str | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    """One hashed indicator, shaped as ``tests/stix_factories.make_indicator`` and DESIGN.md."""
    label = KIND_LABELS[kind]
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": indicator_id,
        "created": timestamp,
        "modified": timestamp,
        "name": name or f"Hashed {label} seen in a model-distillation campaign",
        "description": description
        or (
            f"Keyed HMAC-SHA256 hash (consortium key {key_id}) of a normalised {label} that a "
            "Palisade member reports; the raw value never left the member."
        ),
        "indicator_types": list(_INDICATOR_TYPES),
        "pattern": build_pattern(kind, value),
        "pattern_type": "stix",
        "valid_from": timestamp,
    }
    if confidence is not None:
        obj["confidence"] = confidence
    if valid_until is not None:
        obj["valid_until"] = valid_until
    _markings(obj, tlp)
    ext = dict(extensions or {})
    ext.update(report_extension(anonymous, sharing_group) or {})
    if ext:
        obj["extensions"] = ext
    return obj


def _context(
    stix_type: str,
    object_id: str | None,
    timestamp: str,
    tlp: str | None,
    anonymous: bool,
    sharing_group: str | None,
    **props: Any,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": stix_type,
        "spec_version": "2.1",
        "id": object_id or f"{stix_type}--{uuid.uuid4()}",
        "created": timestamp,
        "modified": timestamp,
        **{k: v for k, v in props.items() if v is not None},
    }
    _markings(obj, tlp)
    ext = report_extension(anonymous, sharing_group)
    if ext:
        obj["extensions"] = ext
    return obj


def campaign_object(
    name: str,
    *,
    timestamp: str,
    campaign_id: str | None = None,
    description: str | None = None,
    tlp: str | None = None,
    anonymous: bool = False,
    sharing_group: str | None = None,
) -> dict[str, Any]:
    return _context(
        "campaign",
        campaign_id,
        timestamp,
        tlp,
        anonymous,
        sharing_group,
        name=name,
        description=description or f"Model-distillation campaign {name}.",
    )


def intrusion_set_object(
    name: str,
    *,
    timestamp: str,
    intrusion_set_id: str | None = None,
    description: str | None = None,
    tlp: str | None = None,
    anonymous: bool = False,
    sharing_group: str | None = None,
) -> dict[str, Any]:
    return _context(
        "intrusion-set",
        intrusion_set_id,
        timestamp,
        tlp,
        anonymous,
        sharing_group,
        name=name,
        description=description or f"Actor behind model-distillation campaigns: {name}.",
    )


def relationship_object(
    relationship_type: str,
    source_ref: str,
    target_ref: str,
    *,
    timestamp: str,
    relationship_id: str | None = None,
    tlp: str | None = None,
    anonymous: bool = False,
    sharing_group: str | None = None,
) -> dict[str, Any]:
    return _context(
        "relationship",
        relationship_id,
        timestamp,
        tlp,
        anonymous,
        sharing_group,
        relationship_type=relationship_type,
        source_ref=source_ref,
        target_ref=target_ref,
    )


class IndicatorTemplates:
    """Pre-serialised indicator JSON with two holes: the UUID and the hash.

    ``render(kind, tlp, confidence, valid_until, uuid, hash)`` returns exactly
    ``json.dumps(indicator_object(...))`` for those arguments, at a fraction of the cost.
    Templates are cached per combination; an export has a handful of combinations.
    Prompt indicators carry a per-row MinHash and so are serialised normally.
    """

    def __init__(
        self,
        *,
        key_id: str,
        timestamp: str,
        anonymous: bool = False,
        sharing_group: str | None = None,
    ) -> None:
        self.key_id = key_id
        self.timestamp = timestamp
        self.anonymous = anonymous
        self.sharing_group = sharing_group
        self._cache: dict[tuple[Any, ...], tuple[str, str, str]] = {}
        # A syntactically valid hash so build_pattern accepts the placeholder's surroundings.
        self._dummy = f"hmac-sha256:{key_id}:" + "0" * 64

    def parts(
        self, kind: str, tlp: str | None, confidence: int | None, valid_until: str | None
    ) -> tuple[str, str, str]:
        """``(a, b, c)`` such that ``a + uuid + b + hash + c`` is the serialised indicator."""
        cache_key = (kind, tlp, confidence, valid_until)
        parts = self._cache.get(cache_key)
        if parts is None:
            obj = indicator_object(
                indicator_id="indicator--" + _ID_PLACEHOLDER,
                kind=kind,
                value=self._dummy,
                key_id=self.key_id,
                timestamp=self.timestamp,
                tlp=tlp,
                confidence=confidence,
                valid_until=valid_until,
                anonymous=self.anonymous,
                sharing_group=self.sharing_group,
            )
            obj["pattern"] = obj["pattern"].replace(self._dummy, _HASH_PLACEHOLDER)
            text = json.dumps(obj, separators=(",", ":"))
            # json.dumps escapes the NUL bytes of the placeholders as \u0000.
            id_mark = json.dumps(_ID_PLACEHOLDER)[1:-1]
            hash_mark = json.dumps(_HASH_PLACEHOLDER)[1:-1]
            a, rest = text.split(id_mark)
            b, c = rest.split(hash_mark)
            parts = self._cache[cache_key] = (a, b, c)
        return parts
