"""``palisade check``: prove the store is whole after a crash, a restore or a key rotation.

Why: "the process died mid-write" is only harmless if we can show it. Each check reads the
database (never writes) and answers pass/fail with a short reason:

- **schema** is at the head migration;
- **blind-index uniqueness**: one canonical indicator per blind index, one report per
  (reporter, source id), one pseudonym row per reporter;
- **ciphertexts**: every value in every encrypted column (``keyrotation.encrypted_columns``)
  decrypts under the key file with its associated data, so none is torn, swapped between rows
  or under a key that was lost;
- **counts**: every submission's counts add up, every report points at an indicator and every
  indicator has at least one report and appears in the feed log;
- **audit chain** verifies (``audit.verify``);
- **feed log** is gap-free: ``seq`` runs 1..n without holes and ``changed_at`` never goes
  backwards in ``seq`` order (what TAXII readers paging by either rely on).

It runs beside a serving deployment (reads only, in short transactions per batch), so an
operator can run it on a live system; figures written after it started may or may not be seen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, text

from sharing import audit, migrate
from sharing.crypto import aead
from sharing.keyrotation import encrypted_columns
from sharing.models import FeedEntry, Indicator, Report, Reporter, Submission
from sharing.runtime import Runtime

BATCH = 2000


@dataclass
class CheckResult:
    name: str
    ok: bool
    detail: str
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "problems": self.problems}


@dataclass
class CheckReport:
    results: list[CheckResult]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [r.as_dict() for r in self.results]}


def check_schema(rt: Runtime) -> CheckResult:
    current = migrate.current_revision(rt.db.engine)
    head = migrate.head_revision()
    ok = current == head
    return CheckResult("schema", ok, f"revision {current or 'empty'} (head {head})")


def check_uniqueness(rt: Runtime) -> CheckResult:
    problems: list[str] = []
    with rt.db.transaction() as session:
        for label, columns in (
            ("indicator blind index", (Indicator.blind_index,)),
            ("indicator STIX id", (Indicator.stix_id,)),
            ("report (reporter, source id)", (Report.reporter_bi, Report.source_id)),
            ("reporter pseudonym", (Reporter.id,)),
        ):
            duplicates = session.execute(
                select(*columns, func.count()).group_by(*columns).having(func.count() > 1).limit(5)
            ).all()
            for row in duplicates:
                problems.append(f"duplicate {label}: {row[-1]} rows share one value")
        indicators = session.scalar(select(func.count()).select_from(Indicator)) or 0
    detail = f"{indicators} canonical indicators, no duplicate" if not problems else "duplicates"
    return CheckResult("blind-index uniqueness", not problems, detail, problems)


def check_ciphertexts(rt: Runtime) -> CheckResult:
    ring = rt.keys.refresh() if rt.keys.path is not None else rt.keys.current()
    problems: list[str] = []
    checked = 0
    for column in encrypted_columns():
        model = column.model
        pk = model.__mapper__.primary_key[0]
        aad_key = getattr(model, model.__aad_key__)
        attr = getattr(model, column.attribute)
        last: Any = None
        while True:
            with rt.db.transaction() as session:
                query = select(pk, aad_key, attr).where(attr.is_not(None)).order_by(pk)
                if last is not None:
                    query = query.where(pk > last)
                rows = session.execute(query.limit(BATCH)).all()
            if not rows:
                break
            last = rows[-1][0]
            for row_id, aad_value, blob in rows:
                checked += 1
                try:
                    aead.decrypt(ring, bytes(blob), f"{column.context}:{aad_value}")
                except Exception as exc:  # any failure is a finding, whatever its class
                    if len(problems) < 20:
                        problems.append(
                            f"{model.__tablename__}.{column.attribute} row {row_id!r}: "
                            f"{exc.__class__.__name__}: {exc}"
                        )
                    elif len(problems) == 20:
                        problems.append("... more")
    detail = f"{checked} ciphertexts decrypt" if not problems else f"{len(problems)} failed"
    return CheckResult("ciphertexts decrypt", not problems, detail, problems)


def check_counts(rt: Runtime) -> CheckResult:
    problems: list[str] = []
    with rt.db.transaction() as session:
        bad_submissions = session.scalar(
            select(func.count())
            .select_from(Submission)
            .where(
                Submission.total_count
                != Submission.success_count + Submission.failure_count + Submission.pending_count
            )
        )
        if bad_submissions:
            problems.append(f"{bad_submissions} submissions whose counts do not add up")
        orphan_reports = session.scalar(
            select(func.count())
            .select_from(Report)
            .where(~select(Indicator.id).where(Indicator.id == Report.indicator_id).exists())
        )
        if orphan_reports:
            problems.append(f"{orphan_reports} reports point at no indicator")
        unreported = session.scalar(
            select(func.count())
            .select_from(Indicator)
            .where(~select(Report.id).where(Report.indicator_id == Indicator.id).exists())
        )
        if unreported:
            problems.append(f"{unreported} indicators have no report")
        unlogged = session.scalar(
            select(func.count())
            .select_from(Indicator)
            .where(~select(FeedEntry.seq).where(FeedEntry.indicator_id == Indicator.id).exists())
        )
        if unlogged:
            problems.append(f"{unlogged} indicators never appear in the feed log")
        as_hex = (
            func.lower(func.hex(Report.reporter_bi))
            if rt.db.dialect == "sqlite"
            else func.encode(Report.reporter_bi, "hex")
        )
        unknown_reporters = session.scalar(
            select(func.count(func.distinct(Report.reporter_bi))).where(
                ~select(Reporter.id).where(Reporter.id == as_hex).exists()
            )
        )
        if unknown_reporters:
            problems.append(f"{unknown_reporters} reporters have no pseudonym row")
        reports = session.scalar(select(func.count()).select_from(Report)) or 0
        submissions = session.scalar(select(func.count()).select_from(Submission)) or 0
    detail = f"{reports} reports, {submissions} submissions consistent" if not problems else "bad"
    return CheckResult("counts consistent", not problems, detail, problems)


def check_audit(rt: Runtime) -> CheckResult:
    with rt.db.transaction() as session:
        result = audit.verify(session)
    if result.ok:
        return CheckResult("audit chain", True, f"{result.checked} entries intact")
    return CheckResult(
        "audit chain", False, f"broken at entry {result.broken_at}", [result.reason or ""]
    )


def check_feed_log(rt: Runtime) -> CheckResult:
    problems: list[str] = []
    with rt.db.transaction() as session:
        count, low, high = session.execute(
            select(func.count(), func.min(FeedEntry.seq), func.max(FeedEntry.seq))
        ).one()
        if count and (low != 1 or high != count):
            problems.append(f"seq is not 1..{count}: runs {low}..{high} ({count} rows)")
        backwards = session.execute(
            text(
                "SELECT count(*) FROM (SELECT changed_at, LAG(changed_at) OVER (ORDER BY seq) "
                "AS prev FROM feed_log) AS t WHERE prev > changed_at"
            )
        ).scalar()
        if backwards:
            problems.append(f"changed_at goes backwards {backwards} times in seq order")
    detail = f"{count} entries, seq 1..{count}, changed_at monotonic" if not problems else "gaps"
    return CheckResult("feed log gap-free", not problems, detail, problems)


CHECKS: tuple[Callable[[Runtime], CheckResult], ...] = (
    check_schema,
    check_uniqueness,
    check_ciphertexts,
    check_counts,
    check_audit,
    check_feed_log,
)


def run_checks(rt: Runtime) -> CheckReport:
    """Run every check; a check that cannot run at all is reported as failed, not raised."""
    results: list[CheckResult] = []
    schema = check_schema(rt)
    results.append(schema)
    for check in CHECKS[1:]:
        if not schema.ok and schema.detail.startswith("revision empty"):
            results.append(CheckResult(check.__name__, False, "skipped: empty database"))
            continue
        try:
            results.append(check(rt))
        except Exception as exc:
            name = check.__name__.removeprefix("check_").replace("_", " ")
            results.append(
                CheckResult(name, False, f"could not run: {exc.__class__.__name__}: {exc}")
            )
    return CheckReport(results)
