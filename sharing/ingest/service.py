"""Bundle in, per-object outcomes out: the ingest service every door (REST, TAXII, portal) uses.

Validation and the lock-free half of the writes (``sharing.ingest.prepare``) happen before the
write transaction, so the lock is held only for the writes. Every object gets an outcome; valid
objects land even when others in the same bundle fail; the whole bundle's writes commit or roll
back together.
"""

from __future__ import annotations

import gzip
import json
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sharing import audit, collector, ledger
from sharing.accounts.principal import Principal
from sharing.errors import Busy, NotFound
from sharing.ingest.bundle import parse_bundle
from sharing.ingest.outcomes import Outcome, StatusReport, stix_timestamp
from sharing.ingest.prepare import ReferenceData, prepare_indicators
from sharing.ingest.validate import ContextIn, IndicatorIn, Rejected, check_object
from sharing.ingest.writer import BundleWriter
from sharing.models.base import utcnow
from sharing.models.submissions import Submission
from sharing.runtime import Runtime
from sharing.visibility import reporter_index

BUSY_RETRIES = 3
RAW_GZIP_LEVEL = 1  # provenance copy: speed matters more than a few percent of size
GZIP_ASIDE_MIN_BYTES = 256 << 10  # ~1 ms of gzip at level 1


def validate_objects(
    objects: list[Any], now: Any
) -> tuple[list[IndicatorIn], list[ContextIn], list[Outcome]]:
    indicators: list[IndicatorIn] = []
    contexts: list[ContextIn] = []
    failures: list[Outcome] = []
    seen: dict[str, int] = {}
    for index, obj in enumerate(objects):
        object_id = obj.get("id") if isinstance(obj, dict) else None
        if not isinstance(object_id, str):
            object_id = None
        version = obj.get("modified") if isinstance(obj, dict) else None
        version = version if isinstance(version, str) else None
        if object_id is not None:
            if object_id in seen:
                failures.append(
                    Outcome(
                        index,
                        object_id,
                        version,
                        False,
                        f"duplicate id: objects[{seen[object_id]}] has the same id in this bundle",
                    )
                )
                continue
            seen[object_id] = index
        try:
            item = check_object(obj, index, now=now)
        except Rejected as exc:
            failures.append(Outcome(index, object_id, version, False, exc.message))
            continue
        (indicators if isinstance(item, IndicatorIn) else contexts).append(item)
    return indicators, contexts, failures


def submit_bundle(
    rt: Runtime,
    principal: Principal,
    body: bytes,
    *,
    keep: list[object] | None = None,
    envelope: bool = False,
) -> StatusReport:
    """Validate, deduplicate, encrypt and store one bundle; return its status resource.

    ``envelope``: ``body`` may be a TAXII envelope instead (``parse_bundle``); the provenance
    copy keeps the body as it came.

    ``keep``: a list that takes the bundle's working objects (parsed, validated and prepared
    objects, the writer's maps) once it is stored, so that they are freed when the caller
    empties it rather than on return: freeing them costs ~12 ms of a 10,000-indicator bundle,
    which a web adapter does after its response is sent (``sharing.web.after_response``)."""
    principal.require_scope("write")
    # A bundle's objects are freed by reference counting; collecting while they pile up
    # only walks them (``sharing.collector``).
    with collector.paused():
        return _submit(rt, principal, body, keep, envelope)


def _submit(
    rt: Runtime, principal: Principal, body: bytes, keep: list[object] | None, envelope: bool
) -> StatusReport:
    bundle = parse_bundle(body, max_objects=rt.settings.max_objects_per_bundle, envelope=envelope)
    with _gzipped_aside(rt, body) as gzipped:
        now = utcnow()
        indicators, contexts, failures = validate_objects(bundle["objects"], now)
        report = StatusReport(str(uuid.uuid4()), now)
        reporter_bi = reporter_index(rt.cipher, principal.org_id)
        group_names = {o.sharing_group for o in [*indicators, *contexts] if o.sharing_group}
        with rt.db.transaction() as session:
            reference = ReferenceData.load(session, group_names)
        prepared, rejected = prepare_indicators(
            indicators,
            reference,
            principal,
            rt.cipher,
            sqlite=rt.db.engine.dialect.name == "sqlite",
        )
        failures += rejected
        raw = gzipped()
    raw_ct = rt.cipher.encrypt(raw, f"submissions.raw:{report.id}") if raw is not None else None

    for attempt in range(BUSY_RETRIES):
        try:
            with ledger.queue(rt.db, bundle=True), rt.db.transaction(write=True) as session:
                ledger.acquire(session)
                writer = BundleWriter(
                    session, rt.cipher, principal, reporter_bi, report.id, now, reference
                )
                outcomes = failures + writer.write_indicators(prepared)
                outcomes += writer.write_contexts(contexts)
                outcomes.sort(key=lambda o: o.index)
                report.outcomes = outcomes
                ledger.append(session, list(writer.changes.values()))
                succeeded, failed = report.details()  # built once; the submission row reuses it
                session.add(_submission_row(rt, report, reporter_bi, raw_ct))
                purge_expired_raw_bundles(session, now)
                # Counts only, and no submission id: the log names the member, so a link
                # from it to the submission would undo the pseudonymous attribution.
                audit.record(
                    session,
                    principal.actor,
                    "bundle.submit",
                    "bundle",
                    {
                        "objects": len(outcomes),
                        "succeeded": len(succeeded),
                        "failed": len(failed),
                    },
                )
            if keep is not None:  # committed: what the bundle was made of may now wait
                keep.extend((bundle, indicators, contexts, prepared, writer, raw))
            return report
        except OperationalError as exc:
            if not _is_busy(exc) or attempt == BUSY_RETRIES - 1:
                if _is_busy(exc):
                    raise Busy("the store is busy; retry shortly", retry_after=2) from exc
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def purge_expired_raw_bundles(session: Session, now: datetime) -> int:
    """Drop provenance copies past their retention. Runs with each bundle's writes (an indexed,
    usually empty update), so retention holds without a scheduler living in some process."""
    result = session.execute(
        update(Submission)
        .where(Submission.raw_expires_at.is_not(None), Submission.raw_expires_at <= now)
        .values(raw_ct=None, raw_expires_at=None)
    )
    return int(result.rowcount or 0)


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc.orig).lower()
    return "database is locked" in text or "deadlock" in text or "could not serialize" in text


@contextmanager
def _gzipped_aside(rt: Runtime, body: bytes) -> Iterator[Callable[[], bytes | None]]:
    """The raw bundle gzipped for the provenance copy, as a call that returns it (None:
    retention is off). zlib releases the GIL while it compresses, so a large bundle is gzipped
    by a side thread, on another core, while the request validates (~20 ms of a
    10,000-indicator bundle); below ``GZIP_ASIDE_MIN_BYTES`` starting the thread costs more
    (~0.2 ms) than it saves. Only the compression leaves the request's thread."""
    if rt.settings.raw_bundle_retention_days <= 0:
        yield lambda: None
    elif len(body) < GZIP_ASIDE_MIN_BYTES:
        yield lambda: gzip.compress(body, compresslevel=RAW_GZIP_LEVEL, mtime=0)
    else:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="palisade-gzip") as side:
            yield side.submit(gzip.compress, body, compresslevel=RAW_GZIP_LEVEL, mtime=0).result


def _submission_row(
    rt: Runtime, report: StatusReport, reporter_bi: bytes, raw_ct: bytes | None
) -> Submission:
    retention = rt.settings.raw_bundle_retention_days
    successes, failures = report.details()
    outcomes = {"successes": successes, "failures": failures}
    return Submission(
        id=report.id,
        reporter_bi=reporter_bi,
        received_at=report.request_timestamp,
        status="complete",
        total_count=len(report.outcomes),
        success_count=len(successes),
        failure_count=len(failures),
        pending_count=0,
        outcomes_ct=rt.cipher.encrypt(orjson.dumps(outcomes), f"submissions.outcomes:{report.id}"),
        raw_ct=raw_ct,
        raw_expires_at=(
            report.request_timestamp + timedelta(days=retention) if retention > 0 else None
        ),
    )


def get_status(rt: Runtime, principal: Principal, status_id: str) -> dict[str, Any]:
    """A submission's status resource; only the submitting member may read it."""
    reporter_bi = reporter_index(rt.cipher, principal.org_id)
    with rt.db.transaction() as session:
        row = session.scalar(
            select(Submission).where(
                Submission.id == status_id, Submission.reporter_bi == reporter_bi
            )
        )
        if row is None:
            raise NotFound(f"no submission {status_id!r} of yours")
        outcomes = json.loads(rt.cipher.decrypt(row.outcomes_ct, f"submissions.outcomes:{row.id}"))
    return {
        "id": row.id,
        "status": row.status,
        "request_timestamp": stix_timestamp(row.received_at),
        "total_count": row.total_count,
        "success_count": row.success_count,
        "successes": outcomes["successes"],
        "failure_count": row.failure_count,
        "failures": outcomes["failures"],
        "pending_count": row.pending_count,
        "pendings": [],
    }
