"""Build member-side STIX objects for tests, hashed with a fixed test consortium key."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sharing.identifiers import (
    TLP_MARKING_IDS,
    ConsortiumKey,
    hash_identifier,
    prompt_signature,
)
from sharing.identifiers.stix import build_pattern, prompt_signature_extension
from sharing.ingest.validate import REPORT_EXTENSION_ID

TEST_CONSORTIUM_KEY = ConsortiumKey("c1", b"\x11" * 32)


def ts(when: datetime | None = None, *, days: float = 0) -> str:
    when = (when or datetime.now(UTC)) + timedelta(days=days)
    return when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def make_indicator(
    raw: str,
    kind: str = "email",
    *,
    tlp: str | None = None,
    group: str | None = None,
    anonymous: bool | None = None,
    confidence: int | None = 70,
    modified: str | None = None,
    source_id: str | None = None,
    valid_until: str | None = None,
    revoked: bool = False,
    key: ConsortiumKey = TEST_CONSORTIUM_KEY,
    **extra: Any,
) -> dict[str, Any]:
    value = hash_identifier(key, kind, raw)
    created = modified or ts(days=-1)
    obj: dict[str, Any] = {
        "type": "indicator",
        "spec_version": "2.1",
        "id": source_id or f"indicator--{uuid.uuid4()}",
        "created": created,
        "modified": modified or created,
        "name": f"{kind} seen in a distillation campaign",
        "pattern": build_pattern(kind, value),
        "pattern_type": "stix",
        "valid_from": created,
    }
    if confidence is not None:
        obj["confidence"] = confidence
    if tlp:
        obj["object_marking_refs"] = [TLP_MARKING_IDS[tlp]]
    if valid_until:
        obj["valid_until"] = valid_until
    if revoked:
        obj["revoked"] = True
    extensions: dict[str, Any] = {}
    if group is not None or anonymous is not None:
        body: dict[str, Any] = {"extension_type": "property-extension"}
        if anonymous is not None:
            body["anonymous"] = anonymous
        if group is not None:
            body["sharing_group"] = group
        extensions[REPORT_EXTENSION_ID] = body
    if kind == "prompt":
        extensions.update(prompt_signature_extension(prompt_signature(key, raw)))
    if extensions:
        obj["extensions"] = extensions
    obj.update(extra)
    return obj


def make_campaign(name: str = "Operation Mirror", **extra: Any) -> dict[str, Any]:
    created = ts(days=-2)
    return {
        "type": "campaign",
        "spec_version": "2.1",
        "id": f"campaign--{uuid.uuid4()}",
        "created": created,
        "modified": created,
        "name": name,
        **extra,
    }


def make_relationship(source: str, target: str, kind: str = "indicates") -> dict[str, Any]:
    created = ts(days=-1)
    return {
        "type": "relationship",
        "spec_version": "2.1",
        "id": f"relationship--{uuid.uuid4()}",
        "created": created,
        "modified": created,
        "relationship_type": kind,
        "source_ref": source,
        "target_ref": target,
    }


def make_bundle(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def body(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()
