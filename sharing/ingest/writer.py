"""The write phase of one bundle: dedup by blind index, report rules, context, feed log.

Runs inside the bundle's single transaction while holding the ingest lock (``sharing.ledger``),
so it sees every committed indicator and nobody else inserts between its lookup and its insert.
Bulk paths use SQLAlchemy Core ``executemany``; a 10,000-indicator bundle makes a few dozen
statements, not tens of thousands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from sharing import bulk, ledger
from sharing.accounts.principal import Principal
from sharing.crypto import aead
from sharing.crypto.blind_index import BlindIndexer
from sharing.crypto.cipher import FieldCipher
from sharing.identifiers import lsh_band_hashes
from sharing.ids import new_time_ordered_uuid4
from sharing.ingest.outcomes import Outcome, stix_timestamp
from sharing.ingest.validate import ContextIn, IndicatorIn
from sharing.models.accounts import SharingGroup
from sharing.models.base import utc_from_db
from sharing.models.consortium import ConsortiumKeyId
from sharing.models.context import ContextLink, ContextObject
from sharing.models.indicators import Indicator, PromptBand, Report, Reporter

CHUNK = 500
# A report's details (name, description, labels, indicator_types: strings and lists of strings,
# checked by stix2) are encoded for every report; orjson does it ~5x faster than the stdlib.
_compact_json = orjson.dumps
# The dedup lookups of every bundle (``bulk.select_in`` form); both must stay index searches,
# which tests/ingest/test_query_plans.py checks on each backend.
EXISTING_INDICATORS_SQL = (
    "SELECT blind_index, id, stix_id FROM indicators WHERE blind_index IN ({})"
)
EXISTING_REPORTS_SQL = (
    "SELECT source_id, id, indicator_id, source_modified, revoked, group_id FROM reports"
    " WHERE reporter_bi = ? AND source_id IN ({})"
)
LINK_RELATIONSHIPS = frozenset({"indicates", "attributed-to", "related-to"})
LINK_TARGETS = ("campaign--", "intrusion-set--")


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass
class _ExistingReport:
    id: int
    indicator_id: int
    source_modified: datetime
    revoked: bool
    group_id: int | None


class BundleWriter:
    def __init__(
        self,
        session: Session,
        cipher: FieldCipher,
        principal: Principal,
        reporter_bi: bytes,
        submission_id: str,
        now: datetime,
    ) -> None:
        self.session = session
        self.cipher = cipher
        self.principal = principal
        self.reporter_bi = reporter_bi
        self.submission_id = submission_id
        self.now = now
        self.changes: dict[tuple[str, int, int | None], ledger.Change] = {}
        # member's indicator id -> (canonical STIX id, report id), for re-pointing context
        self.source_map: dict[str, tuple[str, int]] = {}
        self._groups: dict[str, SharingGroup | None] = {}
        # One key ring and one keyed HMAC state for the whole bundle (hot loop).
        self._ring = cipher.source.current()
        self._blind_index = BlindIndexer(self._ring.blind_index_key)
        self._key_ids: set[str] | None = None

    # ---- checks that need the database -------------------------------------------------

    def _group_id(self, name: str | None, tlp: str) -> int | None:
        if name is None:
            if tlp == "red":
                raise _Fail("TLP:RED needs a sharing group (Palisade report extension)")
            return None
        if name not in self._groups:
            self._groups[name] = self.session.scalar(
                select(SharingGroup).where(SharingGroup.name == name)
            )
        group = self._groups[name]
        if group is None or group.id not in self.principal.group_ids:
            # Same message either way: do not reveal which groups exist.
            raise _Fail(f"you are not a member of a sharing group named {name!r}")
        return group.id

    def _known_key(self, key_id: str) -> bool:
        if self._key_ids is None:
            self._key_ids = set(
                self.session.scalars(
                    select(ConsortiumKeyId.key_id).where(ConsortiumKeyId.retired_at.is_(None))
                )
            )
        return key_id in self._key_ids

    def _change(
        self,
        reason: str,
        group_id: int | None,
        *,
        indicator_id: int | None = None,
        context_id: int | None = None,
    ) -> None:
        target = ("i", indicator_id) if indicator_id is not None else ("c", context_id)
        self.changes[(target[0], target[1], group_id)] = ledger.Change(  # type: ignore[index]
            reason=reason,
            public=group_id is None,
            group_id=group_id,
            reporter_bi=self.reporter_bi,
            indicator_id=indicator_id,
            context_id=context_id,
        )

    # ---- indicators ----------------------------------------------------------------------

    def write_indicators(self, items: list[IndicatorIn]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        accepted: list[tuple[IndicatorIn, int | None, bytes]] = []
        for item in items:
            try:
                if not self._known_key(item.key_id):
                    raise _Fail(f"unknown consortium key id {item.key_id!r} in the hash")
                group_id = self._group_id(item.sharing_group, item.tlp)
            except _Fail as exc:
                outcomes.append(_failed(item.index, item.source_id, item.modified, exc.message))
                continue
            accepted.append((item, group_id, self._blind_index.indicator(item.kind, item.value)))
        if not accepted:
            return outcomes
        # In blind-index order, new indicators go into that unique index as one ascending run
        # (each B-tree page visited once) rather than 10,000 random descents; the caller puts
        # outcomes back in bundle order.
        accepted.sort(key=lambda entry: entry[2])

        canonical = self._existing_indicators([bi for _, _, bi in accepted])
        reports = self._existing_reports([item.source_id for item, _, _ in accepted])
        next_id = (self.session.scalar(select(func.max(Indicator.id))) or 0) + 1
        next_report_id = (self.session.scalar(select(func.max(Report.id))) or 0) + 1
        self.ensure_reporter()
        new_indicators: list[dict[str, Any]] = []
        new_bands: list[dict[str, Any]] = []
        new_reports: list[dict[str, Any]] = []

        for item, group_id, bi in accepted:
            existing = reports.get(item.source_id)
            if existing is not None:
                outcomes.append(self._update_report(item, group_id, bi, existing, canonical))
                continue
            if item.revoked:
                outcomes.append(
                    _ok(item, "revoked before any report of it was stored: nothing to withdraw")
                )
                continue
            found = canonical.get(bi)
            reason = "report"
            if found is None:
                stix_id = f"indicator--{new_time_ordered_uuid4()}"
                found = (next_id, stix_id)
                next_id += 1
                canonical[bi] = found
                new_indicators.append(self._indicator_row(item, bi, *found))
                if item.signature is not None:
                    new_bands.extend(
                        {"indicator_id": found[0], "band": band, "band_hash": value}
                        for band, value in enumerate(lsh_band_hashes(item.signature))
                    )
                reason = "new"
            report_id = next_report_id
            next_report_id += 1
            new_reports.append(self._report_row(item, group_id, found[0], report_id))
            reports[item.source_id] = _ExistingReport(
                report_id, found[0], item.modified, False, group_id
            )
            self.source_map[item.source_id] = (found[1], report_id)
            self._change(reason, group_id, indicator_id=found[0])
            outcomes.append(
                _ok(
                    item,
                    "new indicator"
                    if reason == "new"
                    else "corroborates an indicator already in the exchange",
                )
            )

        for rows, model in (
            (new_indicators, Indicator),
            (new_reports, Report),
            (new_bands, PromptBand),
        ):
            bulk.insert_rows(self.session, model.__table__, rows)
        return outcomes

    def _existing_indicators(self, bis: list[bytes]) -> dict[bytes, tuple[int, str]]:
        rows = bulk.select_in(self.session, EXISTING_INDICATORS_SQL, sorted(set(bis)))
        return {bytes(bi): (row_id, stix_id) for bi, row_id, stix_id in rows}

    def _existing_reports(self, source_ids: list[str]) -> dict[str, _ExistingReport]:
        rows = bulk.select_in(
            self.session, EXISTING_REPORTS_SQL, sorted(set(source_ids)), before=(self.reporter_bi,)
        )
        return {
            row[0]: _ExistingReport(row[1], row[2], utc_from_db(row[3]), bool(row[4]), row[5])
            for row in rows
        }

    def _indicator_row(self, item: IndicatorIn, bi: bytes, row_id: int, stix_id: str) -> dict:
        return {
            "id": row_id,
            "stix_id": stix_id,
            "kind": item.kind,
            "blind_index": bi,
            "value_ct": aead.encrypt(
                self._ring, item.value.encode(), f"indicators.value:{stix_id}"
            ),
            "consortium_key_id": item.key_id,
            "signature_ct": (
                self.cipher.encrypt(
                    json.dumps(list(item.signature.values)).encode(),
                    f"indicators.signature:{stix_id}",
                )
                if item.signature is not None
                else None
            ),
            "created_at": self.now,
        }

    def ensure_reporter(self) -> None:
        """Register this member's pseudonym (once per member, ever)."""
        reporter_id = self.reporter_bi.hex()
        if self.session.get(Reporter, reporter_id) is None:
            self.session.add(
                Reporter(
                    id=reporter_id,
                    org_ct=self.cipher.encrypt_text(
                        str(self.principal.org_id), f"reporters.org:{reporter_id}"
                    ),
                )
            )
            self.session.flush()

    def _report_row(
        self, item: IndicatorIn, group_id: int | None, indicator_id: int, report_id: int
    ) -> dict[str, Any]:
        return {
            "id": report_id,
            "indicator_id": indicator_id,
            "reporter_bi": self.reporter_bi,
            "source_id": item.source_id,
            "source_modified": item.modified,
            "confidence": item.confidence,
            "tlp": item.tlp,
            "group_id": group_id,
            "valid_from": item.valid_from,
            "valid_until": item.valid_until,
            "revoked": item.revoked,
            "anonymous": item.anonymous,
            "details_ct": self._details(item, report_id),
            "submission_id": self.submission_id,
            "created_at": self.now,
            "updated_at": self.now,
        }

    def _details(self, item: IndicatorIn, report_id: int) -> bytes | None:
        if not item.details:
            return None
        return aead.encrypt(self._ring, _compact_json(item.details), f"reports.details:{report_id}")

    def _update_report(
        self,
        item: IndicatorIn,
        group_id: int | None,
        bi: bytes,
        existing: _ExistingReport,
        canonical: dict[bytes, tuple[int, str]],
    ) -> Outcome:
        if item.modified == existing.source_modified:
            return _ok(item, "unchanged: this version is already stored")
        if item.modified < existing.source_modified:
            return _ok(
                item,
                f"ignored: a newer version (modified {stix_timestamp(existing.source_modified)})"
                " is already stored",
            )
        found = canonical.get(bi)
        if found is None or found[0] != existing.indicator_id:
            return _failed(
                item.index,
                item.source_id,
                item.modified,
                "a new version may not change the indicator's pattern; revoke it and submit a "
                "new indicator instead",
            )
        # Known from the batched lookup: no per-report query on the update path.
        old_group = existing.group_id
        self.session.execute(
            update(Report)
            .where(Report.id == existing.id)
            .values(
                source_modified=item.modified,
                confidence=item.confidence,
                tlp=item.tlp,
                group_id=group_id,
                valid_from=item.valid_from,
                valid_until=item.valid_until,
                revoked=item.revoked,
                anonymous=item.anonymous,
                details_ct=self._details(item, existing.id),
                submission_id=self.submission_id,
                updated_at=self.now,
            )
        )
        existing.source_modified = item.modified
        existing.group_id = group_id
        reason = "revoke" if item.revoked else "update"
        self.source_map[item.source_id] = (found[1], existing.id)
        self._change(reason, group_id, indicator_id=existing.indicator_id)
        if old_group != group_id:
            # Readers who could see the old audience must learn that it changed too.
            self._change(reason, old_group, indicator_id=existing.indicator_id)
        return _ok(item, "withdrawn (revoked)" if item.revoked else "updated")

    # ---- context objects -----------------------------------------------------------------

    def known_sources(self, refs: Iterable[str]) -> None:
        """Load this member's earlier indicators that context objects refer to."""
        wanted = sorted({r for r in refs if r.startswith("indicator--")} - set(self.source_map))
        for chunk in _chunks(wanted):
            for source_id, report_id, stix_id in self.session.execute(
                select(Report.source_id, Report.id, Indicator.stix_id)
                .join(Indicator, Indicator.id == Report.indicator_id)
                .where(Report.reporter_bi == self.reporter_bi, Report.source_id.in_(chunk))
            ):
                self.source_map[source_id] = (stix_id, report_id)

    def write_contexts(self, items: list[ContextIn]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        self.known_sources(ref for item in items for ref in _refs(item.obj))
        for item in items:
            try:
                outcomes.append(self._write_context(item))
            except _Fail as exc:
                outcomes.append(_failed(item.index, item.stix_id, item.modified, exc.message))
        return outcomes

    def _write_context(self, item: ContextIn) -> Outcome:
        group_id = self._group_id(item.sharing_group, item.tlp)
        body = self._repoint(item.obj)
        existing = self.session.execute(
            select(ContextObject.id, ContextObject.reporter_bi, ContextObject.modified).where(
                ContextObject.stix_id == item.stix_id
            )
        ).first()
        version = stix_timestamp(item.modified)
        if existing is not None:
            row_id, owner, modified = existing
            if bytes(owner) != self.reporter_bi:
                raise _Fail("this id belongs to an object another member submitted")
            if item.modified == modified:
                return Outcome(item.index, item.stix_id, version, True, "unchanged")
            if item.modified < modified:
                return Outcome(
                    item.index,
                    item.stix_id,
                    version,
                    True,
                    "ignored: a newer version is already stored",
                )
            self.session.execute(
                update(ContextObject)
                .where(ContextObject.id == row_id)
                .values(
                    modified=item.modified,
                    tlp=item.tlp,
                    group_id=group_id,
                    anonymous=item.anonymous,
                    revoked=item.revoked,
                    body_ct=self._body(item.stix_id, body),
                    submission_id=self.submission_id,
                )
            )
            self._change("revoke" if item.revoked else "update", group_id, context_id=row_id)
            message = "updated"
        else:
            row = ContextObject(
                stix_id=item.stix_id,
                stix_type=item.stix_type,
                reporter_bi=self.reporter_bi,
                reporter_ct=self.cipher.encrypt_text(
                    str(self.principal.org_id), f"context.reporter:{item.stix_id}"
                ),
                modified=item.modified,
                tlp=item.tlp,
                group_id=group_id,
                anonymous=item.anonymous,
                revoked=item.revoked,
                body_ct=self._body(item.stix_id, body),
                submission_id=self.submission_id,
                created_at=self.now,
            )
            self.session.add(row)
            self.session.flush()
            self._change("new", group_id, context_id=row.id)
            message = "stored"
        if item.stix_type == "relationship":
            self._link(body)
        return Outcome(item.index, item.stix_id, version, True, message)

    def _body(self, stix_id: str, body: dict[str, Any]) -> bytes:
        return self.cipher.encrypt(
            json.dumps(body, separators=(",", ":")).encode(), f"context.body:{stix_id}"
        )

    def _repoint(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Replace references to the member's own indicator ids with canonical ids."""
        body = dict(obj)
        for key, value in obj.items():
            if key.endswith("_ref") and isinstance(value, str):
                body[key] = self._canonical_ref(value)
            elif key.endswith("_refs") and isinstance(value, list):
                body[key] = [self._canonical_ref(v) if isinstance(v, str) else v for v in value]
        return body

    def _canonical_ref(self, ref: str) -> str:
        if not ref.startswith("indicator--"):
            return ref
        mapped = self.source_map.get(ref)
        if mapped is None:
            raise _Fail(
                f"refers to {ref}, which is not an indicator you have submitted successfully"
            )
        return mapped[0]

    def _link(self, body: dict[str, Any]) -> None:
        if body.get("relationship_type") not in LINK_RELATIONSHIPS:
            return
        target = body.get("target_ref", "")
        if not isinstance(target, str) or not target.startswith(LINK_TARGETS):
            return
        by_canonical = {stix: report for stix, report in self.source_map.values()}
        source = by_canonical.get(body.get("source_ref", ""))
        if source is None:
            return
        exists = self.session.scalar(
            select(ContextLink.id).where(ContextLink.relationship_stix_id == body["id"])
        )
        if exists is None:
            self.session.execute(
                insert(ContextLink).values(
                    report_id=source, relationship_stix_id=body["id"], target_stix_id=target
                )
            )


def _refs(obj: dict[str, Any]) -> Iterator[str]:
    for key, value in obj.items():
        if key.endswith("_ref") and isinstance(value, str):
            yield value
        elif key.endswith("_refs") and isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))


class _Fail(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _ok(item: IndicatorIn, message: str) -> Outcome:
    return Outcome(item.index, item.source_id, stix_timestamp(item.modified), True, message)


def _failed(index: int, object_id: str | None, modified: datetime | None, message: str) -> Outcome:
    version = stix_timestamp(modified) if modified else None
    return Outcome(index, object_id, version, False, message)
