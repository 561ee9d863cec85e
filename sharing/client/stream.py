"""Streaming hashing: rows in, a STIX bundle (or JSONL of hashes) out, in constant memory.

This is the engine of ``palisade hash`` and of bench/hash.  A member's export can have tens
of millions of rows, so nothing here holds more than one row, the few campaign names seen so
far and a handful of pre-serialised templates; the bundle is written as it goes, one object
per line, in a layout :func:`sharing.client.bundle.iter_bundle_objects` can read back lazily.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import IO, Any

from sharing.identifiers import KINDS, ConsortiumKeyring, InvalidIdentifier

from .errors import RowRejected
from .rows import RowError, RowHasher, parse_confidence, parse_tlp, parse_valid_until
from .stix import (
    IndicatorTemplates,
    campaign_object,
    indicator_object,
    intrusion_set_object,
    relationship_object,
    stix_timestamp,
    uuid4_batch,
    uuid4_strings,
)

__all__ = ["BUNDLE_HEADER_PREFIX", "HashJob", "HashStats", "StrictStop"]

#: Every streamed bundle starts with this (then the bundle id and ``","objects":[``).
BUNDLE_HEADER_PREFIX = '{"type":"bundle","id":"'
_COMPACT = {"separators": (",", ":")}
#: Rows taken from the input at a time (bounded memory, amortised per-call costs).
BATCH_SIZE = 2048


class StrictStop(Exception):
    """``strict`` mode met a bad row; ``error`` says which and why."""

    def __init__(self, error: RowError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class HashStats:
    rows: int = 0
    hashed: int = 0
    rejected: int = 0
    objects: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    reasons: Counter[tuple[str, str]] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "hashed": self.hashed,
            "rejected": self.rejected,
            "objects": self.objects,
            "by_kind": dict(self.by_kind),
            "rejections": [
                {"kind": k, "reason": r, "count": n} for (k, r), n in self.reasons.most_common()
            ],
        }


class HashJob:
    """Hash rows from :func:`sharing.client.rows.read_rows` and write them to ``out``.

    ``output`` is ``"bundle"`` (a STIX 2.1 bundle: indicators, campaigns, an intrusion set and
    their ``indicates``/``attributed-to`` relationships) or ``"jsonl"`` (one
    ``{"line", "kind", "value", ...}`` object per hashed row).  Row-level defaults (TLP,
    confidence, campaign, valid_until) apply where a row leaves the column empty.
    """

    def __init__(
        self,
        keyring: ConsortiumKeyring,
        out: IO[str],
        *,
        output: str = "bundle",
        tlp: str | None = "amber",
        confidence: int | None = None,
        valid_until: str | None = None,
        campaign: str | None = None,
        intrusion_set: str | None = None,
        anonymous: bool = False,
        sharing_group: str | None = None,
        force_ip: bool = False,
        default_region: str = "US",
        strict: bool = False,
        on_reject: Callable[[RowError], None] | None = None,
        on_progress: Callable[[int], None] | None = None,
        progress_every: int = 10_000,
    ) -> None:
        if output not in ("bundle", "jsonl"):
            raise ValueError("output must be 'bundle' or 'jsonl'")
        self.keyring = keyring
        self.out = out
        self.output = output
        self.defaults = (
            parse_tlp(tlp),
            parse_confidence(confidence),
            parse_valid_until(valid_until),
            campaign or None,
        )
        self.intrusion_set = intrusion_set
        self.anonymous = anonymous
        self.sharing_group = sharing_group
        self.strict = strict
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.progress_every = progress_every
        self.hasher = RowHasher(keyring, force_ip=force_ip, default_region=default_region)
        self.timestamp = stix_timestamp()
        self.key_id = keyring.current.key_id
        self.templates = IndicatorTemplates(
            key_id=self.key_id,
            timestamp=self.timestamp,
            anonymous=anonymous,
            sharing_group=sharing_group,
        )
        self.bundle_id = f"bundle--{uuid.uuid4()}"
        self.stats = HashStats()
        self._ids = uuid4_strings()
        self._campaigns: dict[str, str] = {}
        self._intrusion_set_id: str | None = None
        self._started = False
        self._tlps: dict[Any, str | None] = {}
        self._confidences: dict[Any, int | None] = {}
        self._valid_untils: dict[Any, str | None] = {}
        self._extras: dict[tuple[Any, ...], str] = {}
        self._fast = {k: self.hasher.function(k) for k in KINDS}
        self._bulk = {k: self.hasher.bulk(k) for k in KINDS}

    # ---- output helpers -----------------------------------------------------------------

    def _ctx(self, tlp: str | None) -> dict[str, Any]:
        return {
            "timestamp": self.timestamp,
            "tlp": tlp,
            "anonymous": self.anonymous,
            "sharing_group": self.sharing_group,
        }

    def _write_object(self, text: str, count: int = 1) -> None:
        """Append ``count`` serialised objects (already joined by ``,\\n``) to the bundle."""
        if self._started:
            self.out.write(",\n" + text)
        else:
            self.out.write(f'{BUNDLE_HEADER_PREFIX}{self.bundle_id}","objects":[\n{text}')
            self._started = True
        self.stats.objects += count

    def _campaign_id(self, campaign: str) -> str:
        found = self._campaigns.get(campaign)
        if found is not None:
            return found
        if campaign.startswith("campaign--"):
            try:
                uuid.UUID(campaign[len("campaign--") :])
            except ValueError:
                raise RowRejected("-", "campaign id is not campaign--<UUID>") from None
            self._campaigns[campaign] = campaign
            return campaign
        if len(campaign) > 256:
            raise RowRejected("-", "campaign name is longer than 256 characters")
        ctx = self._ctx(self.defaults[0])
        obj = campaign_object(campaign, campaign_id=f"campaign--{next(self._ids)}", **ctx)
        self._write_object(json.dumps(obj, **_COMPACT))
        if self.intrusion_set:
            if self._intrusion_set_id is None:
                iset = intrusion_set_object(
                    self.intrusion_set,
                    intrusion_set_id=f"intrusion-set--{next(self._ids)}",
                    **ctx,
                )
                self._write_object(json.dumps(iset, **_COMPACT))
                self._intrusion_set_id = iset["id"]
            rel = relationship_object(
                "attributed-to",
                obj["id"],
                self._intrusion_set_id,
                relationship_id=f"relationship--{next(self._ids)}",
                **ctx,
            )
            self._write_object(json.dumps(rel, **_COMPACT))
        self._campaigns[campaign] = obj["id"]
        return obj["id"]

    def _columns(self, kind: str, tlp_s: Any, conf_s: Any, camp_s: Any, vu_s: Any) -> tuple:
        d_tlp, d_conf, d_vu, d_camp = self.defaults
        if tlp_s is None or tlp_s == "":
            tlp = d_tlp
        else:
            tlp = self._tlps.get(tlp_s, "?")
            if tlp == "?":
                tlp = self._tlps[tlp_s] = parse_tlp(tlp_s, kind)
        if conf_s is None or conf_s == "":
            conf = d_conf
        else:
            conf = self._confidences.get(conf_s, -1)
            if conf == -1:
                conf = self._confidences[conf_s] = parse_confidence(conf_s, kind)
        if vu_s is None or vu_s == "":
            vu = d_vu
        else:
            vu = self._valid_untils.get(vu_s, "?")
            if vu == "?":
                vu = parse_valid_until(vu_s, kind)
                self._valid_untils[vu_s] = vu
        if camp_s is None or (isinstance(camp_s, str) and not camp_s.strip()):
            camp = d_camp
        elif isinstance(camp_s, str):
            camp = camp_s.strip()
        else:
            raise RowRejected(kind, "campaign must be a name or a campaign id")
        return tlp or d_tlp, conf, vu, camp

    def _reject(self, error: RowError) -> None:
        self.stats.rejected += 1
        self.stats.reasons[(error.kind, error.reason)] += 1
        if self.on_reject is not None:
            self.on_reject(error)
        if self.strict:
            raise StrictStop(error)

    # ---- the loop -------------------------------------------------------------------------

    def run(self, rows: Iterable[tuple[Any, ...] | RowError]) -> HashStats:
        """Consume ``rows``; returns the statistics (raises :class:`StrictStop` if strict).

        Rows are taken in batches.  A batch of one kind with no per-row columns (the shape of
        a typical export) is hashed with one ``map`` and written with one ``write``; any
        batch that is not that simple, or holds a bad row, goes row by row instead, with
        identical output.
        """
        it = iter(rows)
        stats = self.stats
        progress = self.on_progress
        since = 0
        try:
            while True:
                batch = list(islice(it, BATCH_SIZE))
                if not batch:
                    break
                if not self._fast_batch(batch):
                    for row in batch:
                        self._one(row)
                stats.rows += len(batch)
                since += len(batch)
                if progress is not None and since >= self.progress_every:
                    progress(since)
                    since = 0
        finally:
            stats.hashed = sum(stats.by_kind.values())
            if progress is not None and since:
                progress(since)
        return stats

    def _fast_batch(self, batch: list[Any]) -> bool:
        """Hash and write a simple batch in bulk; False (nothing written) if it is not."""
        # One pass over the batch: every row a plain 7-tuple of one kind, no per-row columns.
        try:
            shapes = {(r.__class__, len(r), r[1], r[3], r[4], r[5], r[6]) for r in batch}
        except (TypeError, IndexError):  # a RowError (or a short tuple) among the rows
            return False
        if len(shapes) != 1:
            return False
        ((cls, width, kind, *extras),) = shapes
        if cls is not tuple or width != 7 or extras != [None, None, None, None]:
            return False
        bulk = self._bulk.get(kind)
        if bulk is None:
            return False
        jsonl = self.output == "jsonl"
        tlp, conf, vu, camp = self.defaults
        if camp is not None and not jsonl:
            return False
        try:
            hashes = bulk([r[2] for r in batch])
        except (InvalidIdentifier, TypeError, AttributeError):
            return False
        if jsonl:
            # The constant parts of every line, so a row costs one four-part f-string.
            head = '{"line":'
            mid = f',"kind":"{kind}","value":"'
            tail = f'"{self._extra(tlp, conf, vu, camp)}}}\n'
            self.out.write(
                "".join([f"{head}{r[0]}{mid}{h}{tail}" for r, h in zip(batch, hashes, strict=True)])
            )
        else:
            a, b, c = self.templates.parts(kind, tlp, conf, vu)
            ids = uuid4_batch(len(hashes))
            text = ",\n".join([f"{a}{i}{b}{h}{c}" for i, h in zip(ids, hashes, strict=True)])
            self._write_object(text, count=len(hashes))
        self.stats.by_kind[kind] += len(hashes)
        return True

    def _extra(self, tlp: Any, conf: Any, vu: Any, camp: Any) -> str:
        key = (tlp, conf, vu, camp)
        extra = self._extras.get(key)
        if extra is None:
            fields = {"tlp": tlp, "confidence": conf, "valid_until": vu, "campaign": camp}
            extra = "".join(
                f",{json.dumps(k)}:{json.dumps(v)}" for k, v in fields.items() if v is not None
            )
            self._extras[key] = extra
        return extra

    def _one(self, row: tuple[Any, ...] | RowError) -> None:
        """One row, with every check and every optional column."""
        if row.__class__ is RowError:
            self._reject(row)  # type: ignore[arg-type]
            return
        line, kind, raw, tlp_s, conf_s, camp_s, vu_s = row  # type: ignore[misc]
        jsonl = self.output == "jsonl"
        try:
            fn = self._fast.get(kind)
            ext = None
            if fn is not None and raw.__class__ is str:
                try:
                    h = fn(raw)
                except InvalidIdentifier as exc:
                    raise RowRejected(kind, exc.reason) from None
            else:
                h, ext = self.hasher.hash(kind, raw)
            if tlp_s is None and conf_s is None and camp_s is None and vu_s is None:
                tlp, conf, vu, camp = self.defaults
            else:
                tlp, conf, vu, camp = self._columns(kind, tlp_s, conf_s, camp_s, vu_s)
            if camp is not None and not jsonl:
                camp_id = self._campaign_id(camp)
        except RowRejected as exc:
            kind_name = kind if isinstance(kind, str) and kind else "-"
            self._reject(RowError(line, kind_name if exc.kind == "-" else exc.kind, exc.reason))
            return
        self.stats.by_kind[kind] += 1
        if jsonl:
            extra = self._extra(tlp, conf, vu, camp)
            if ext is not None:
                (body,) = ext.values()
                extra += f',"minhash":"{body["minhash"]}"'
            self.out.write(f'{{"line":{line},"kind":"{kind}","value":"{h}"{extra}}}\n')
            return
        ind_id = "indicator--" + next(self._ids)
        if ext is None:
            a, b, c = self.templates.parts(kind, tlp, conf, vu)
            self._write_object(a + ind_id[11:] + b + h + c)
        else:
            obj = indicator_object(
                indicator_id=ind_id,
                kind=kind,
                value=h,
                key_id=self.key_id,
                timestamp=self.timestamp,
                tlp=tlp,
                confidence=conf,
                valid_until=vu,
                anonymous=self.anonymous,
                sharing_group=self.sharing_group,
                extensions=ext,
            )
            self._write_object(json.dumps(obj, **_COMPACT))
        if camp is not None:
            rel = relationship_object(
                "indicates",
                ind_id,
                camp_id,
                relationship_id=f"relationship--{next(self._ids)}",
                **self._ctx(tlp),
            )
            self._write_object(json.dumps(rel, **_COMPACT))

    def finish(self) -> None:
        """Close the bundle's JSON (call once, after :meth:`run`)."""
        if self.output != "bundle":
            return
        if self._started:
            self.out.write("\n]}\n")
        else:
            self.out.write(f'{BUNDLE_HEADER_PREFIX}{self.bundle_id}"}}\n')
