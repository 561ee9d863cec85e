"""Building STIX bundles of hashed indicators in memory, and reading big ones back lazily.

``BundleBuilder`` is the SDK entry point for code that already holds its findings in Python
(a detection job, a notebook): ``add("email", raw)`` hashes locally with the consortium key
and keeps only the hash, so the bundle it returns cannot contain a raw value.  The command
line's streaming path (:mod:`.stream`) emits the same object shapes.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sharing.identifiers import ConsortiumKeyring

from .errors import RowRejected
from .rows import RowError, RowHasher, parse_confidence, parse_tlp, parse_valid_until
from .stix import (
    campaign_object,
    indicator_object,
    intrusion_set_object,
    relationship_object,
    stix_timestamp,
)

__all__ = ["BundleBuilder", "chunk_objects", "iter_bundle_objects", "load_bundle"]

_STREAM_HEADER = re.compile(r'\{"type":"bundle","id":"(bundle--[0-9a-f-]{36})","objects":\[\n?')


class BundleBuilder:
    """Collect hashed indicators and their context into one STIX 2.1 bundle.

    Defaults given here (TLP, confidence, valid_until, anonymity, sharing group) apply to
    every object unless :meth:`add` overrides them per indicator::

        builder = BundleBuilder(load_keyring("consortium.key"), tlp="amber", confidence=80)
        builder.intrusion_set("Mirror Group")
        builder.campaign("Operation Mirror", intrusion_set="Mirror Group")
        builder.add("email", "someone@example.com", campaign="Operation Mirror")
        client.submit(builder.bundle())
    """

    def __init__(
        self,
        keyring: ConsortiumKeyring,
        *,
        tlp: str | None = "amber",
        confidence: int | None = None,
        valid_until: str | datetime | None = None,
        anonymous: bool = False,
        sharing_group: str | None = None,
        force_ip: bool = False,
        default_region: str = "US",
    ) -> None:
        self.keyring = keyring
        self.tlp = parse_tlp(tlp)
        self.confidence = parse_confidence(confidence)
        self.valid_until = parse_valid_until(valid_until)
        self.anonymous = bool(anonymous)
        self.sharing_group = sharing_group or None
        self.hasher = RowHasher(keyring, force_ip=force_ip, default_region=default_region)
        self.bundle_id = f"bundle--{uuid.uuid4()}"
        self._objects: list[dict[str, Any]] = []
        self._campaigns: dict[str, str] = {}
        self._intrusion_sets: dict[str, str] = {}

    def __len__(self) -> int:
        return len(self._objects)

    @property
    def objects(self) -> list[dict[str, Any]]:
        return list(self._objects)

    def _ctx(self, tlp: str | None = None) -> dict[str, Any]:
        return {
            "timestamp": stix_timestamp(),
            "tlp": tlp or self.tlp,
            "anonymous": self.anonymous,
            "sharing_group": self.sharing_group,
        }

    def intrusion_set(
        self, name: str, *, description: str | None = None, stix_id: str | None = None
    ) -> str:
        """Declare (once) the intrusion set behind campaigns; returns its STIX id."""
        if name in self._intrusion_sets:
            return self._intrusion_sets[name]
        obj = intrusion_set_object(
            name, intrusion_set_id=stix_id, description=description, **self._ctx()
        )
        self._objects.append(obj)
        self._intrusion_sets[name] = obj["id"]
        return obj["id"]

    def campaign(
        self,
        name: str,
        *,
        description: str | None = None,
        intrusion_set: str | None = None,
        stix_id: str | None = None,
    ) -> str:
        """Declare (once) a campaign, optionally ``attributed-to`` an intrusion set (by name
        or STIX id); returns the campaign's STIX id.  A ``campaign--<uuid>`` passed as
        ``name`` refers to a campaign already on the exchange and adds no object."""
        if name in self._campaigns:
            return self._campaigns[name]
        if name.startswith("campaign--"):
            try:
                uuid.UUID(name[len("campaign--") :])
            except ValueError:
                raise RowRejected("-", "campaign id is not campaign--<UUID>") from None
            self._campaigns[name] = name
            return name
        obj = campaign_object(name, campaign_id=stix_id, description=description, **self._ctx())
        self._objects.append(obj)
        self._campaigns[name] = obj["id"]
        if intrusion_set:
            target = (
                intrusion_set
                if intrusion_set.startswith("intrusion-set--")
                else self.intrusion_set(intrusion_set)
            )
            self._objects.append(
                relationship_object("attributed-to", obj["id"], target, **self._ctx())
            )
        return obj["id"]

    def add(
        self,
        kind: str,
        raw: str,
        *,
        tlp: str | None = None,
        confidence: int | None = None,
        campaign: str | None = None,
        valid_until: str | datetime | None = None,
        indicator_id: str | None = None,
        name: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        """Hash ``raw`` as ``kind`` and add its indicator (and ``indicates`` relationship).

        Raises :class:`~sharing.client.errors.RowRejected` (nothing is added) if the value is
        invalid or on the IP warning list.  ``name``/``description`` override the generic
        ones; never put the raw value in them.
        """
        value, ext = self.hasher.hash(kind, raw)
        tlp_name = parse_tlp(tlp, kind) or self.tlp
        conf = parse_confidence(confidence, kind)
        until = parse_valid_until(valid_until, kind)
        ctx = self._ctx(tlp_name)
        obj = indicator_object(
            indicator_id=indicator_id or f"indicator--{uuid.uuid4()}",
            kind=kind,
            value=value,
            key_id=self.keyring.current.key_id,
            timestamp=ctx["timestamp"],
            tlp=tlp_name,
            confidence=conf if conf is not None else self.confidence,
            valid_until=until or self.valid_until,
            anonymous=self.anonymous,
            sharing_group=self.sharing_group,
            extensions=ext,
            name=name,
            description=description,
        )
        campaign_id = self.campaign(campaign) if campaign else None
        self._objects.append(obj)
        if campaign_id:
            self._objects.append(relationship_object("indicates", obj["id"], campaign_id, **ctx))
        return obj

    def add_rows(self, rows: Iterable[Mapping[str, Any]]) -> list[RowError]:
        """Add many ``{"kind", "value"[, "tlp", "confidence", "campaign", "valid_until"]}``
        rows; returns the rejected ones (1-based position, kind, reason) instead of raising."""
        errors: list[RowError] = []
        for n, row in enumerate(rows, 1):
            kind = row.get("kind") or "-"
            try:
                self.add(
                    kind,
                    row.get("value"),  # type: ignore[arg-type]
                    tlp=row.get("tlp"),
                    confidence=row.get("confidence"),
                    campaign=row.get("campaign"),
                    valid_until=row.get("valid_until"),
                )
            except RowRejected as exc:
                errors.append(RowError(n, kind if exc.kind == "-" else exc.kind, exc.reason))
        return errors

    def bundle(self) -> dict[str, Any]:
        """The STIX 2.1 bundle (a fresh dict each call)."""
        out: dict[str, Any] = {"type": "bundle", "id": self.bundle_id}
        if self._objects:
            out["objects"] = self.objects
        return out

    def to_json(self, **dumps_kw: Any) -> str:
        return json.dumps(self.bundle(), **dumps_kw)


def load_bundle(source: str | os.PathLike[str] | IO[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A bundle from a dict, a path or an open text stream (whole, into memory)."""
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, str | os.PathLike):
        with open(source, encoding="utf-8") as fh:
            return json.load(fh)  # type: ignore[no-any-return]
    return json.load(source)  # type: ignore[no-any-return]


def iter_bundle_objects(path: str | os.PathLike[str]) -> tuple[str, Iterator[dict[str, Any]]]:
    """``(bundle_id, objects)`` of a bundle file, lazily if ``palisade hash`` wrote it.

    ``palisade hash`` writes one object per line, so its multi-gigabyte bundles can be
    submitted without loading them; any other bundle file is parsed whole.
    """
    path = Path(path)
    with path.open(encoding="utf-8") as fh:
        head = fh.read(200)
    m = _STREAM_HEADER.match(head)
    if m is None or "\n" not in head:
        bundle = load_bundle(path)
        if not isinstance(bundle, dict) or bundle.get("type") != "bundle":
            raise ValueError(f"{path} is not a STIX bundle")
        return str(bundle.get("id", f"bundle--{uuid.uuid4()}")), iter(bundle.get("objects", []))

    def objects() -> Iterator[dict[str, Any]]:
        with path.open(encoding="utf-8") as fh:
            fh.readline()
            for line in fh:
                text = line.rstrip("\n")
                if text == "]}":
                    return
                yield json.loads(text[:-1] if text.endswith(",") else text)
            raise ValueError(f"{path} ends before the bundle is closed (truncated?)")

    return m.group(1), objects()


def _size(obj: dict[str, Any]) -> int:
    return len(json.dumps(obj, separators=(",", ":"))) + 1


_SHARED_CONTEXT = frozenset({"campaign", "intrusion-set", "identity", "marking-definition"})


def chunk_objects(
    objects: Iterable[dict[str, Any]], *, max_objects: int, max_bytes: int
) -> Iterator[list[dict[str, Any]]]:
    """Split objects into bundles small enough for the server.

    Context objects (campaigns, intrusion sets, identities, markings) are repeated in every
    later chunk so each chunk's relationships point at objects it carries; re-submitting the
    same id and ``modified`` is a no-op on the server.
    """
    shared: list[dict[str, Any]] = []
    shared_bytes = 0
    chunk: list[dict[str, Any]] = []
    size = 0
    for obj in objects:
        n = _size(obj)
        is_shared = obj.get("type") in _SHARED_CONTEXT
        if chunk and (len(chunk) + 1 > max_objects or size + n > max_bytes):
            yield chunk
            chunk, size = list(shared), shared_bytes
        chunk.append(obj)
        size += n
        if is_shared:
            shared.append(obj)
            shared_bytes += n
            if len(shared) >= max_objects // 2 or shared_bytes >= max_bytes // 2:
                raise ValueError("too many context objects to repeat in every chunk")
    if chunk:
        yield chunk
