"""The write phase of one bundle: dedup by blind index, report rules, context, feed log.

Runs inside the bundle's single transaction while holding the ingest lock (``sharing.ledger``),
so it sees every committed indicator and nobody else inserts between its lookup and its insert.
Whatever needs no lock (blind indexes, value encryption, reference checks) was done before it,
by ``sharing.ingest.prepare``. Rows go in through ``sharing.bulk`` as tuples in the driver's
form; a 10,000-indicator bundle makes a few dozen statements, not tens of thousands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from sharing import bulk, ledger
from sharing.accounts.principal import Principal
from sharing.crypto import aead
from sharing.crypto.cipher import FieldCipher
from sharing.ingest.outcomes import Outcome, stix_timestamp
from sharing.ingest.prepare import PreparedIndicator, ReferenceData, RejectedHere, group_id_for
from sharing.ingest.validate import ContextIn
from sharing.models.base import utc_from_db
from sharing.models.context import ContextLink, ContextObject
from sharing.models.indicators import Indicator, Report, Reporter

CHUNK = 500
INDICATOR_COLUMNS = (
    "id",
    "stix_id",
    "kind",
    "blind_index",
    "value_ct",
    "consortium_key_id",
    "signature_ct",
    "created_at",
)
REPORT_COLUMNS = (
    "id",
    "indicator_id",
    "reporter_bi",
    "source_id",
    "source_modified",
    "confidence",
    "tlp",
    "group_id",
    "valid_from",
    "valid_until",
    "revoked",
    "anonymous",
    "submission_id",
    "created_at",
    "updated_at",
    "details_ct",  # encrypted for all rows at once, before the rows are built
)
BAND_COLUMNS = ("indicator_id", "band", "band_hash")
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
        reference: ReferenceData,
    ) -> None:
        self.session = session
        self.cipher = cipher
        self.principal = principal
        self.reporter_bi = reporter_bi
        self.submission_id = submission_id
        self.now = now
        sqlite = session.get_bind().dialect.name == "sqlite"
        self.now_db = bulk.sqlite_datetime(now) if sqlite else now
        self._flags = bulk.flag_values(sqlite)
        self.reference = reference
        self.changes: dict[tuple[str, int, int | None], ledger.Change] = {}
        # member's indicator id -> (canonical STIX id, report id), for re-pointing context
        self.source_map: dict[str, tuple[str, int]] = {}
        # One key ring for the whole bundle (hot loop).
        self._ring = cipher.source.current()

    # ---- checks that need the database -------------------------------------------------

    def _group_id(self, name: str | None, tlp: str) -> int | None:
        return group_id_for(self.reference, self.principal, name, tlp)

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

    def write_indicators(self, items: list[PreparedIndicator]) -> list[Outcome]:
        """Dedup, the report rules and the inserts for indicators in blind-index order
        (``prepare_indicators``); outcomes come back in that order, the caller sorts them."""
        outcomes: list[Outcome] = []
        if not items:
            return outcomes
        canonical = self._existing_indicators([entry.blind_index for entry in items])
        reports = self._existing_reports([entry.item.source_id for entry in items])
        next_id = (self.session.scalar(select(func.max(Indicator.id))) or 0) + 1
        self.ensure_reporter()
        new_indicators: list[tuple[Any, ...]] = []
        new_bands: list[tuple[int, int, int]] = []
        new_reports: list[tuple[str, tuple[int, str], PreparedIndicator]] = []
        now, reporter_bi = self.now_db, self.reporter_bi
        changes, change = self.changes, ledger.Change

        for entry in items:
            item = entry.item
            existing = reports.get(item.source_id)
            if existing is not None:
                outcomes.append(self._update_report(entry, existing, canonical))
                continue
            if item.revoked:
                outcomes.append(
                    _ok(entry, "revoked before any report of it was stored: nothing to withdraw")
                )
                continue
            found = canonical.get(entry.blind_index)
            if found is None:
                found = canonical[entry.blind_index] = (next_id, entry.stix_id)
                next_id += 1
                new_indicators.append(
                    (
                        found[0],
                        entry.stix_id,
                        item.kind,
                        bytearray(entry.blind_index),  # as encrypt_many's, for the driver
                        entry.value_ct,
                        item.key_id,
                        entry.signature_ct,
                        now,
                    )
                )
                if entry.band_hashes:
                    new_bands.extend(
                        (found[0], band, value) for band, value in enumerate(entry.band_hashes)
                    )
                reason, message = "new", "new indicator"
            else:
                reason, message = "report", "corroborates an indicator already in the exchange"
            # The row itself waits for its id, which follows source-id order (below).
            new_reports.append((item.source_id, found, entry))
            group_id = entry.group_id
            # as _change() does, inline: this runs once per indicator
            changes[("i", found[0], group_id)] = change(
                reason, group_id is None, group_id, reporter_bi, found[0], None
            )
            outcomes.append(Outcome(item.index, item.source_id, entry.version, True, message))

        bulk.insert_tuples(self.session, "indicators", INDICATOR_COLUMNS, new_indicators)
        bulk.insert_tuples(self.session, "reports", REPORT_COLUMNS, self._report_rows(new_reports))
        bulk.insert_tuples(self.session, "prompt_bands", BAND_COLUMNS, new_bands)
        return outcomes

    def _report_rows(
        self, new_reports: list[tuple[str, tuple[int, str], PreparedIndicator]]
    ) -> list[tuple[Any, ...]]:
        """Rows of this bundle's new reports, ids given in source-id order: the rows then enter
        both the table and the unique ``(reporter, source id)`` index as ascending runs (member
        ids are random, so in blind-index order that index took them at random places)."""
        new_reports.sort(key=itemgetter(0))
        first_id = (self.session.scalar(select(func.max(Report.id))) or 0) + 1
        now, reporter_bi, submission_id = self.now_db, self.reporter_bi, self.submission_id
        flags = self._flags
        # Details first (they need the row ids), so each row is built once, whole.
        details = [
            (entry.details_json, f"reports.details:{report_id}")
            for report_id, (_, _, entry) in enumerate(new_reports, first_id)
            if entry.details_json is not None
        ]
        sealed = iter(aead.encrypt_many(self._ring, details))
        rows: list[tuple[Any, ...]] = []
        for report_id, (source_id, (indicator_id, stix_id), entry) in enumerate(
            new_reports, first_id
        ):
            item = entry.item
            rows.append(
                (
                    report_id,
                    indicator_id,
                    reporter_bi,
                    source_id,
                    entry.modified_db,
                    item.confidence,
                    item.tlp,
                    entry.group_id,
                    entry.valid_from_db,
                    entry.valid_until_db,
                    flags[item.revoked],
                    flags[item.anonymous],
                    submission_id,
                    now,
                    now,
                    next(sealed) if entry.details_json is not None else None,
                )
            )
            # No later object of this bundle has the same source id (validation refuses
            # duplicate ids), so the lookup of existing reports need not learn of this one.
            self.source_map[source_id] = (stix_id, report_id)
        return rows

    def _existing_indicators(self, bis: list[bytes]) -> dict[bytes, tuple[int, str]]:
        # bytearrays: the driver binds them without an adapter lookup (``bulk``)
        wanted = [bytearray(bi) for bi in sorted(set(bis))]
        rows = bulk.select_in(self.session, EXISTING_INDICATORS_SQL, wanted)
        return {bytes(bi): (row_id, stix_id) for bi, row_id, stix_id in rows}

    def _existing_reports(self, source_ids: list[str]) -> dict[str, _ExistingReport]:
        rows = bulk.select_in(
            self.session, EXISTING_REPORTS_SQL, sorted(set(source_ids)), before=(self.reporter_bi,)
        )
        return {
            row[0]: _ExistingReport(row[1], row[2], utc_from_db(row[3]), bool(row[4]), row[5])
            for row in rows
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

    def _update_report(
        self,
        entry: PreparedIndicator,
        existing: _ExistingReport,
        canonical: dict[bytes, tuple[int, str]],
    ) -> Outcome:
        item, group_id = entry.item, entry.group_id
        if item.modified == existing.source_modified:
            return _ok(entry, "unchanged: this version is already stored")
        if item.modified < existing.source_modified:
            return _ok(
                entry,
                f"ignored: a newer version (modified {stix_timestamp(existing.source_modified)})"
                " is already stored",
            )
        found = canonical.get(entry.blind_index)
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
                details_ct=(
                    aead.encrypt(self._ring, entry.details_json, f"reports.details:{existing.id}")
                    if entry.details_json is not None
                    else None
                ),
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
        return _ok(entry, "withdrawn (revoked)" if item.revoked else "updated")

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
            except RejectedHere as exc:
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
                raise RejectedHere("this id belongs to an object another member submitted")
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
            raise RejectedHere(
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


def _ok(entry: PreparedIndicator, message: str) -> Outcome:
    return Outcome(entry.item.index, entry.item.source_id, entry.version, True, message)


def _failed(index: int, object_id: str | None, modified: datetime | None, message: str) -> Outcome:
    version = stix_timestamp(modified) if modified else None
    return Outcome(index, object_id, version, False, message)
